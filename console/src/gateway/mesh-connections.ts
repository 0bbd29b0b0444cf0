import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ChainServiceDefinition } from '@elixirchain/proto/chain';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { connect } from '@elixirchain/runtime';

/** Where the four services listen (host:port). */
export interface MeshAddressBook {
  memory: string;
  toolSandbox: string;
  agentHost: string;
  chainExecutor: string;
}

export type MeshServiceKey = keyof MeshAddressBook;

/** The runtime's clients, one per service; the definitions are kept so routes can map JSON both ways. */
export class MeshConnections {
  readonly definitions = {
    memory: MemoryServiceDefinition,
    toolSandbox: ToolSandboxServiceDefinition,
    agentHost: AgentServiceDefinition,
    chainExecutor: ChainServiceDefinition,
  } as const;
  readonly clients: Record<MeshServiceKey, Record<string, (request: unknown, options?: object) => unknown> & { close(): void }>;

  constructor(readonly addresses: MeshAddressBook) {
    this.clients = {
      memory: connect(MemoryServiceDefinition, addresses.memory) as never,
      toolSandbox: connect(ToolSandboxServiceDefinition, addresses.toolSandbox) as never,
      agentHost: connect(AgentServiceDefinition, addresses.agentHost) as never,
      chainExecutor: connect(ChainServiceDefinition, addresses.chainExecutor) as never,
    };
  }

  close(): void {
    for (const client of Object.values(this.clients)) client.close();
  }
}
