import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { connect } from '../client/connect.js';
import { ElixirError, GrpcCode } from '../errors/index.js';
import type { LeaseStateClient } from './memory-state-lease-store.js';

/** A LeaseStateClient over the memory service's gRPC API (for services that do not have their own memory port). */
export function connectLeaseStateClient(address: string): LeaseStateClient & { close(): void } {
  const client = connect(MemoryServiceDefinition, address);
  const absentIfNotFound = async <T>(call: Promise<T>, absent: T): Promise<T> => {
    try {
      return await call;
    } catch (error) {
      if (ElixirError.is(error, GrpcCode.NOT_FOUND)) return absent;
      throw error;
    }
  };
  return {
    getState: async (key) => (await absentIfNotFound(client.getState({ key }), { entry: undefined })).entry,
    putState: async (request) => (await client.putState(request)).entry!,
    deleteState: async (key, expectedVersion) => (await absentIfNotFound(client.deleteState({ key, expectedVersion }), { deleted: false })).deleted,
    close: () => client.close(),
  };
}
