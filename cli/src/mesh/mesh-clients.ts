import { connect, secretFromEnv, type ClientOptions, type ServiceClient } from '@elixirchain/runtime';
import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ChainServiceDefinition } from '@elixirchain/proto/chain';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { serviceAddress } from '../launcher/service-catalog.js';

export type AgentClient = ServiceClient<typeof AgentServiceDefinition>;
export type ChainClient = ServiceClient<typeof ChainServiceDefinition>;
export type MemoryClient = ServiceClient<typeof MemoryServiceDefinition>;
export type SandboxClient = ServiceClient<typeof ToolSandboxServiceDefinition>;
export type AdminClient = ServiceClient<typeof AdminServiceDefinition>;

/** The caller's credentials: ELIXIRCHAIN_TOKEN (an API key or JWT; or the file ELIXIRCHAIN_TOKEN_FILE names) as a bearer token on every call. */
function callerOptions(env: Record<string, string | undefined> = process.env): ClientOptions {
  const token = secretFromEnv('ELIXIRCHAIN_TOKEN', env);
  return token ? { metadata: { authorization: `Bearer ${token}` } } : {};
}

/** Clients for the mesh at the addresses the environment names (ELIXIRCHAIN_<SERVICE>_ADDR); closed together. */
export class MeshClients {
  private readonly open: { close(): void }[] = [];

  constructor(private readonly addresses: Partial<Record<'agent-host' | 'chain-executor' | 'memory' | 'tool-sandbox', string>> = {}) {}

  agents(): AgentClient {
    return this.track(connect(AgentServiceDefinition, this.addresses['agent-host'] ?? serviceAddress('agent-host'), callerOptions()));
  }

  chains(): ChainClient {
    return this.track(connect(ChainServiceDefinition, this.addresses['chain-executor'] ?? serviceAddress('chain-executor'), callerOptions()));
  }

  memory(): MemoryClient {
    return this.track(connect(MemoryServiceDefinition, this.addresses.memory ?? serviceAddress('memory'), callerOptions()));
  }

  tools(): SandboxClient {
    return this.track(connect(ToolSandboxServiceDefinition, this.addresses['tool-sandbox'] ?? serviceAddress('tool-sandbox'), { ...callerOptions(), maxMessageBytes: 64 << 20 }));
  }

  /** Key management and the audit log (served by memory). */
  admin(): AdminClient {
    return this.track(connect(AdminServiceDefinition, this.addresses.memory ?? serviceAddress('memory'), callerOptions()));
  }

  close(): void {
    for (const client of this.open.splice(0)) client.close();
  }

  private track<T extends { close(): void }>(client: T): T {
    this.open.push(client);
    return client;
  }
}
