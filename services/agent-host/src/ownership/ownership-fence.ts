import type { BatchWriteResponse, WriteOperation } from '@elixirchain/proto/memory';
import { ElixirError, GrpcCode, errors, type DeepPartial } from '@elixirchain/runtime';
import type { MemoryPort } from '../ports/memory-port.js';

export interface OwnerRecord {
  replica: string;
  address: string;
  token: number;
}

/**
 * Fences one agent's history writes: every checkpoint BatchWrite (atomic)
 * also rewrites the agent's ownership record `owners/agent/<id>` with
 * compare-and-set on the version this owner last wrote. A replica that takes
 * the agent over rewrites that record first, so any later write of the old
 * owner (paused, partitioned) is refused with ABORTED and the old actor
 * stops. Writes of one agent go out one at a time, because each one moves
 * the version the next one expects.
 */
export class OwnershipFence {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly agentId: string,
    readonly key: string,
    private version: number,
    private readonly record: OwnerRecord,
    private readonly leaseValid: () => boolean,
    private readonly memory: MemoryPort,
  ) {}

  get token(): number {
    return this.record.token;
  }

  /** Writes the operations atomically with the ownership check; requestId makes a retry of the batch replay it. */
  write(operations: DeepPartial<WriteOperation>[], requestId?: string): Promise<BatchWriteResponse> {
    const run = this.tail.then(() => this.writeNow(operations, requestId));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async writeNow(operations: DeepPartial<WriteOperation>[], requestId: string | undefined): Promise<BatchWriteResponse> {
    // Past the lease by our own clock: someone may own the agent already; do not even try.
    if (!this.leaseValid()) throw errors.aborted('LEASE_EXPIRED', `the lease on agent ${this.agentId} expired on this replica`, { agentId: this.agentId });
    const check: DeepPartial<WriteOperation> = {
      operation: { $case: 'putState', putState: { key: this.key, value: { $case: 'structValue', structValue: { ...this.record } }, expectedVersion: this.version } },
    };
    try {
      const response = await this.memory.batchWrite({ atomic: true, operations: [...operations, check], omitStateValues: true, ...(requestId ? { requestId } : {}) });
      for (const result of response.results) {
        const r = result.result;
        if (r?.$case === 'putState' && r.putState.entry?.key === this.key) this.version = r.putState.entry.version;
      }
      return response;
    } catch (error) {
      if (!ElixirError.is(error, GrpcCode.ABORTED)) await this.resync();
      throw error;
    }
  }

  /** After a write whose outcome is unknown: adopt the record's version if it is still ours. */
  private async resync(): Promise<void> {
    try {
      const entry = await this.memory.getState(this.key);
      const value = entry?.value?.$case === 'structValue' ? (entry.value.structValue as Partial<OwnerRecord>) : undefined;
      if (entry && value?.replica === this.record.replica && Number(value.token) === this.record.token) this.version = entry.version;
    } catch {
      // The next write finds out.
    }
  }
}
