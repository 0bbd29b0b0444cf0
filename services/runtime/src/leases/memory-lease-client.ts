import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { actingForTenant } from '../auth/authenticator.js';
import { connect } from '../client/connect.js';
import { ElixirError, GrpcCode } from '../errors/index.js';
import type { LeaseStateClient } from './memory-state-lease-store.js';

/**
 * A LeaseStateClient over the memory service's gRPC API (for services that do
 * not have their own memory port). Its calls act for tenant "default" even
 * when made while serving another tenant's call (a StartRun taking its run's
 * lease), so every lease lands in one place every replica reads.
 */
export function connectLeaseStateClient(address: string, service = 'leases'): LeaseStateClient & { close(): void } {
  const client = connect(MemoryServiceDefinition, address, { metadata: actingForTenant(service, 'default') });
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
