// The limit of the transport: the same hops and messages as an ElixirChain
// turn across its processes, with no work in any handler.
import * as grpc from '@grpc/grpc-js';
import { AgentServiceClient, TurnStatus, type SendMessageResponse } from '@elixirchain/proto/agent';
import { freePort, spawnServiceProcess, type ServiceProcess } from '../../harness/service-process.js';
import type { Contender } from '../contender.js';
import { EXPECTED_TOOL_RESULT, USER_MESSAGE, emptyOutcome, receiveText, type TurnOutcome } from '../workload.js';

const mesh = (file: string): string => new URL(`../bare-grpc-mesh/${file}`, import.meta.url).pathname;

export async function createContender(): Promise<Contender> {
  const [memoryPort, sandboxPort, hostPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const started: ServiceProcess[] = [];
  const start = async (name: string, file: string, port: number, env: NodeJS.ProcessEnv = {}): Promise<ServiceProcess> => {
    const service = await spawnServiceProcess({ name, entry: mesh(file), address: `127.0.0.1:${port}`, env: { ...env, BARE_GRPC_ADDR: `127.0.0.1:${port}` } });
    started.push(service);
    return service;
  };
  try {
    const [memory, sandbox] = await Promise.all([start('memory', 'memory-process.ts', memoryPort), start('sandbox', 'sandbox-process.ts', sandboxPort)]);
    await start('agent-host', 'agent-host-process.ts', hostPort, { BARE_GRPC_MEMORY_ADDR: memory.address, BARE_GRPC_SANDBOX_ADDR: sandbox.address });
  } catch (error) {
    await Promise.all(started.map((s) => s.stop()));
    throw error;
  }
  const client = new AgentServiceClient(`127.0.0.1:${hostPort}`, grpc.credentials.createInsecure());
  let thread = 0;

  return {
    turn() {
      return new Promise<TurnOutcome>((resolve, reject) => {
        const outcome = emptyOutcome();
        const stream = client.sendMessage({ agentId: 'bench', threadId: `t${thread++}`, content: USER_MESSAGE, onBusy: 0, requestId: '' });
        stream.on('data', (response: SendMessageResponse) => {
          const event = response.event?.event;
          if (event?.$case === 'textDelta') receiveText(outcome, event.textDelta.text);
          else if (event?.$case === 'turnCompleted' && event.turnCompleted.status === TurnStatus.TURN_STATUS_COMPLETED) outcome.toolResult = EXPECTED_TOOL_RESULT;
        });
        stream.on('error', reject);
        stream.on('end', () => resolve(outcome));
      });
    },
    processes: () => Object.fromEntries(started.map((s) => [s.name, s.pid])),
    async close() {
      client.close();
      await Promise.all(started.map((s) => s.stop()));
    },
  };
}
