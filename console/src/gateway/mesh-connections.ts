import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ChainServiceDefinition } from '@elixirchain/proto/chain';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { connect, meshClientDefaults, type ClientOptions } from '@elixirchain/runtime';

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
    const options = browserClientOptions();
    this.clients = {
      memory: connect(MemoryServiceDefinition, addresses.memory, options) as never,
      toolSandbox: connect(ToolSandboxServiceDefinition, addresses.toolSandbox, options) as never,
      agentHost: connect(AgentServiceDefinition, addresses.agentHost, options) as never,
      chainExecutor: connect(ChainServiceDefinition, addresses.chainExecutor, options) as never,
    };
  }

  close(): void {
    for (const client of Object.values(this.clients)) client.close();
  }
}

/**
 * The gateway calls for the browser, never as a service: it trusts the mesh's
 * CA but presents no client certificate, and blanks the process's service
 * token (ELIXIRCHAIN_SERVICE_TOKEN), so a call carries only the browser's own
 * Authorization header and the services judge the browser's key.
 */
export function browserClientOptions(env: NodeJS.ProcessEnv = process.env): ClientOptions {
  const own = meshClientDefaults(env);
  return { tls: own.tls ? { caFile: own.tls.caFile } : undefined, metadata: { authorization: '' } };
}
