import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { actingForTenant, connect, ElixirError, GrpcCode, type CallOptions, type ClientOptions, type ServiceClient } from '@elixirchain/runtime';
import type { MemoryPort } from './memory-port.js';

/** The memory service over gRPC, through the runtime's client (deadlines, retries, typed errors). */
export class GrpcMemoryPort implements MemoryPort {
  readonly client: ServiceClient<typeof MemoryServiceDefinition>;
  /** Set for a tenant's port: every call says which tenant it is for, also outside any caller's call. */
  private readonly call: CallOptions | undefined;
  private readonly owner: boolean;

  constructor(address: string | ServiceClient<typeof MemoryServiceDefinition>, options?: ClientOptions, tenant?: string) {
    this.owner = typeof address === 'string';
    this.client = typeof address === 'string' ? connect(MemoryServiceDefinition, address, options) : address;
    this.call = tenant ? { metadata: actingForTenant('agent-host', tenant) } : undefined;
  }

  /** The same memory, with every call made for `tenant` (a tenant's AgentHost, whose turns run detached). */
  forTenant(tenant: string): GrpcMemoryPort {
    return new GrpcMemoryPort(this.client, undefined, tenant);
  }

  batchWrite: MemoryPort['batchWrite'] = (request) => this.client.batchWrite(request, this.call);
  putState: MemoryPort['putState'] = async (request) => (await this.client.putState(request, this.call)).entry!;
  listState: MemoryPort['listState'] = (request) => this.client.listState(request, this.call);
  listMessages: MemoryPort['listMessages'] = async (request) => {
    try {
      return await this.client.listMessages(request, this.call);
    } catch (error) {
      // A thread with no messages yet may not exist in memory: it has no history.
      if (ElixirError.is(error, GrpcCode.NOT_FOUND)) return { messages: [], nextPageToken: '', thread: undefined };
      throw error;
    }
  };
  searchMemories: MemoryPort['searchMemories'] = async (request) => {
    try {
      return await this.client.searchMemories(request, this.call);
    } catch (error) {
      // Nothing remembered yet: an empty namespace is not an error for recall.
      if (ElixirError.is(error, GrpcCode.NOT_FOUND)) return { results: [], namespace: undefined };
      throw error;
    }
  };
  upsertMemories: MemoryPort['upsertMemories'] = (request) => this.client.upsertMemories(request, this.call);

  async getState(key: string) {
    try {
      return (await this.client.getState({ key }, this.call)).entry;
    } catch (error) {
      if (ElixirError.is(error, GrpcCode.NOT_FOUND)) return undefined;
      throw error;
    }
  }

  async deleteState(key: string, expectedVersion?: number) {
    try {
      return (await this.client.deleteState({ key, expectedVersion }, this.call)).deleted;
    } catch (error) {
      if (ElixirError.is(error, GrpcCode.NOT_FOUND)) return false;
      throw error;
    }
  }

  close(): void {
    if (this.owner) this.client.close();
  }
}
