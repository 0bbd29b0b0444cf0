// ElixirChain's turn engine without the network: agent-host's actors and turn
// state machine in this process, over in-process memory and tool ports, so the
// gap to the gRPC row is what the hops cost.
import { existsSync } from 'node:fs';
import type { Contender } from '../contender.js';

const INDEX = new URL('../../../services/agent-host/src/index.ts', import.meta.url).pathname;

export async function createContender(): Promise<Contender> {
  if (!existsSync(INDEX)) throw new Error('not available yet: services/agent-host/src/index.ts does not exist yet');
  throw new Error('not available yet: @elixirchain/agent-host does not export an in-process turn engine yet');
}
