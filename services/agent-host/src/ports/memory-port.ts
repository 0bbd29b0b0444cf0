import type {
  BatchWriteRequest,
  BatchWriteResponse,
  ListMessagesRequest,
  ListMessagesResponse,
  ListStateRequest,
  ListStateResponse,
  PutStateRequest,
  SearchMemoriesRequest,
  SearchMemoriesResponse,
  StateEntry,
  UpsertMemoriesRequest,
  UpsertMemoriesResponse,
} from '@elixirchain/proto/memory';
import type { DeepPartial } from '@elixirchain/runtime';

/**
 * What agent-host needs from the memory service. The gRPC client satisfies it
 * (see grpc-memory-port.ts); InProcessMemory is a fake for tests and benchmarks.
 * Compare-and-set losses surface as ElixirError ABORTED.
 */
export interface MemoryPort {
  batchWrite(request: DeepPartial<BatchWriteRequest>): Promise<BatchWriteResponse>;
  /** undefined when the key does not exist. */
  getState(key: string): Promise<StateEntry | undefined>;
  putState(request: DeepPartial<PutStateRequest>): Promise<StateEntry>;
  deleteState(key: string, expectedVersion?: number): Promise<boolean>;
  listState(request: DeepPartial<ListStateRequest>): Promise<ListStateResponse>;
  listMessages(request: DeepPartial<ListMessagesRequest>): Promise<ListMessagesResponse>;
  searchMemories(request: DeepPartial<SearchMemoriesRequest>): Promise<SearchMemoriesResponse>;
  upsertMemories(request: DeepPartial<UpsertMemoriesRequest>): Promise<UpsertMemoriesResponse>;
}
