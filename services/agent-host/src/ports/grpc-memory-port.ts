import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { connect, ElixirError, GrpcCode, type ClientOptions, type ServiceClient } from '@elixirchain/runtime';
import type { MemoryPort } from './memory-port.js';

/** The memory service over gRPC, through the runtime's client (deadlines, retries, typed errors). */
export class GrpcMemoryPort implements MemoryPort {
  readonly client: ServiceClient<typeof MemoryServiceDefinition>;

  constructor(address: string, options?: ClientOptions) {
    this.client = connect(MemoryServiceDefinition, address, options);
  }

  batchWrite: MemoryPort['batchWrite'] = (request) => this.client.batchWrite(request);
  putState: MemoryPort['putState'] = async (request) => (await this.client.putState(request)).entry!;
  listState: MemoryPort['listState'] = (request) => this.client.listState(request);
  listMessages: MemoryPort['listMessages'] = async (request) => {
    try {
      return await this.client.listMessages(request);
    } catch (error) {
      // A thread with no messages yet may not exist in memory: it has no history.
      if (ElixirError.is(error, GrpcCode.NOT_FOUND)) return { messages: [], nextPageToken: '', thread: undefined };
      throw error;
    }
  };
  searchMemories: MemoryPort['searchMemories'] = async (request) => {
    try {
      return await this.client.searchMemories(request);
    } catch (error) {
      // Nothing remembered yet: an empty namespace is not an error for recall.
      if (ElixirError.is(error, GrpcCode.NOT_FOUND)) return { results: [], namespace: undefined };
      throw error;
    }
  };
  upsertMemories: MemoryPort['upsertMemories'] = (request) => this.client.upsertMemories(request);

  async getState(key: string) {
    try {
      return (await this.client.getState({ key })).entry;
    } catch (error) {
      if (ElixirError.is(error, GrpcCode.NOT_FOUND)) return undefined;
      throw error;
    }
  }

  async deleteState(key: string, expectedVersion?: number) {
    try {
      return (await this.client.deleteState({ key, expectedVersion })).deleted;
    } catch (error) {
      if (ElixirError.is(error, GrpcCode.NOT_FOUND)) return false;
      throw error;
    }
  }

  close(): void {
    this.client.close();
  }
}
