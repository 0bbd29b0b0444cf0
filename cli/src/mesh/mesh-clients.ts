import { connect, type ServiceClient } from '@elixirchain/runtime';
import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ChainServiceDefinition } from '@elixirchain/proto/chain';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { serviceAddress } from '../launcher/service-catalog.js';

export type AgentClient = ServiceClient<typeof AgentServiceDefinition>;
export type ChainClient = ServiceClient<typeof ChainServiceDefinition>;
export type MemoryClient = ServiceClient<typeof MemoryServiceDefinition>;
export type SandboxClient = ServiceClient<typeof ToolSandboxServiceDefinition>;

/** Clients for the mesh at the addresses the environment names (ELIXIRCHAIN_<SERVICE>_ADDR); closed together. */
export class MeshClients {
  private readonly open: { close(): void }[] = [];

  constructor(private readonly addresses: Partial<Record<'agent-host' | 'chain-executor' | 'memory' | 'tool-sandbox', string>> = {}) {}

  agents(): AgentClient {
    return this.track(connect(AgentServiceDefinition, this.addresses['agent-host'] ?? serviceAddress('agent-host')));
  }

  chains(): ChainClient {
    return this.track(connect(ChainServiceDefinition, this.addresses['chain-executor'] ?? serviceAddress('chain-executor')));
  }

  memory(): MemoryClient {
    return this.track(connect(MemoryServiceDefinition, this.addresses.memory ?? serviceAddress('memory')));
  }

  tools(): SandboxClient {
    return this.track(connect(ToolSandboxServiceDefinition, this.addresses['tool-sandbox'] ?? serviceAddress('tool-sandbox'), { maxMessageBytes: 64 << 20 }));
  }

  close(): void {
    for (const client of this.open.splice(0)) client.close();
  }

  private track<T extends { close(): void }>(client: T): T {
    this.open.push(client);
    return client;
  }
}
