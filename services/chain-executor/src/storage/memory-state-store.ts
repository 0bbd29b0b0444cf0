import { randomUUID } from 'node:crypto';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import type { StateEntry as ProtoStateEntry } from '@elixirchain/proto/memory';
import { actingForTenant, connect, ElixirError, GrpcCode, type CallOptions } from '@elixirchain/runtime';
import type { ServiceClient } from '@elixirchain/runtime';
import type { StateEntry, StatePage, StateStore, StateWrite } from './state-store.js';
import { VersionConflictError } from './state-store.js';

type MemoryClient = ServiceClient<typeof MemoryServiceDefinition>;

// JSON in bytes_value: several times cheaper to encode than a Struct, and checkpoints are the hot path.
const encode = (value: unknown, json = JSON.stringify(value)) => ({ $case: 'bytesValue' as const, bytesValue: Buffer.from(json) });

function decode(entry: ProtoStateEntry): StateEntry {
  const v = entry.value;
  const value = v?.$case === 'bytesValue' ? JSON.parse(v.bytesValue.toString('utf8')) : v?.$case === 'structValue' ? v.structValue : undefined;
  return { key: entry.key, value, version: entry.version };
}

function conflict(error: unknown, key: string): never {
  if (error instanceof ElixirError && error.code === GrpcCode.ABORTED && error.reason === 'VERSION_CONFLICT') {
    throw new VersionConflictError(error.metadata.key ?? error.metadata.id ?? key, Number(error.metadata.current_version ?? error.metadata.currentVersion ?? 0));
  }
  throw error;
}

/** memory's key/value state over gRPC: where definitions and run checkpoints live. */
export class MemoryStateStore implements StateStore {
  readonly client: MemoryClient;
  /** Set for a tenant's store: every call names the tenant, also for runs resumed in the background. */
  private readonly call: CallOptions | undefined;
  private readonly owner: boolean;

  constructor(address: string | MemoryClient, tenant?: string) {
    this.owner = typeof address === 'string';
    this.client = typeof address === 'string' ? connect(MemoryServiceDefinition, address) : address;
    this.call = tenant ? { metadata: actingForTenant('chain-executor', tenant) } : undefined;
  }

  forTenant(tenant: string): MemoryStateStore {
    return new MemoryStateStore(this.client, tenant);
  }

  async get(key: string): Promise<StateEntry | undefined> {
    try {
      const res = await this.client.getState({ key }, this.call);
      return res.entry ? decode(res.entry) : undefined;
    } catch (error) {
      if (error instanceof ElixirError && error.code === GrpcCode.NOT_FOUND) return undefined;
      throw error;
    }
  }

  async put(key: string, value: unknown, expectedVersion?: number): Promise<StateEntry> {
    try {
      const res = await this.client.putState({ key, value: encode(value), expectedVersion, requestId: randomUUID() }, this.call);
      return decode(res.entry!);
    } catch (error) {
      conflict(error, key);
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      return (await this.client.deleteState({ key, requestId: randomUUID() }, this.call)).deleted;
    } catch (error) {
      if (error instanceof ElixirError && error.code === GrpcCode.NOT_FOUND) return false;
      throw error;
    }
  }

  async list(prefix: string, pageSize: number, pageToken: string, keysOnly = false): Promise<StatePage> {
    const res = await this.client.listState({ prefix, pageSize, pageToken, keysOnly }, this.call);
    return { entries: res.entries.map(decode), nextPageToken: res.nextPageToken };
  }

  async batch(writes: StateWrite[], requestId = randomUUID()): Promise<void> {
    if (writes.length === 0) return;
    // A request id makes the batch safe to retry when memory restarts mid-call.
    try {
      await this.client.batchWrite({
        atomic: true,
        requestId,
        // Results unread here: without it memory sends every value back (a checkpoint batch's whole size).
        omitStateValues: true,
        operations: writes.map((w) =>
          w.op === 'put'
            ? { operation: { $case: 'putState' as const, putState: { key: w.key, value: encode(w.value, w.json), expectedVersion: w.expectedVersion, requestId: '' } } }
            : { operation: { $case: 'deleteState' as const, deleteState: { key: w.key, requestId: '' } } },
        ),
      }, this.call);
    } catch (error) {
      conflict(error, '');
    }
  }

  close(): void {
    if (this.owner) this.client.close();
  }
}
