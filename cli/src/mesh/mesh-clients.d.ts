import { type ServiceClient } from '@elixirchain/runtime';
import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ChainServiceDefinition } from '@elixirchain/proto/chain';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
export type AgentClient = ServiceClient<typeof AgentServiceDefinition>;
export type ChainClient = ServiceClient<typeof ChainServiceDefinition>;
export type MemoryClient = ServiceClient<typeof MemoryServiceDefinition>;
export type SandboxClient = ServiceClient<typeof ToolSandboxServiceDefinition>;
export type AdminClient = ServiceClient<typeof AdminServiceDefinition>;
/** Clients for the mesh at the addresses the environment names (ELIXIRCHAIN_<SERVICE>_ADDR); closed together. */
export declare class MeshClients {
    private readonly addresses;
    private readonly open;
    constructor(addresses?: Partial<Record<'agent-host' | 'chain-executor' | 'memory' | 'tool-sandbox', string>>);
    agents(): AgentClient;
    chains(): ChainClient;
    memory(): MemoryClient;
    tools(): SandboxClient;
    /** Key management and the audit log (served by memory). */
    admin(): AdminClient;
    close(): void;
    private track;
}
