import type { DeepPartial } from '../server/service-definition.js';
import type { PutStateRequest, StateEntry } from '@elixirchain/proto/memory';
import { ElixirError, GrpcCode } from '../errors/index.js';
import type { AcquireResult, Lease, LeaseHolder, LeaseStore } from './lease-store.js';

/** The part of the memory service a lease needs (agent-host's MemoryPort has this shape). */
export interface LeaseStateClient {
  getState(key: string): Promise<StateEntry | undefined>;
  putState(request: DeepPartial<PutStateRequest>): Promise<StateEntry>;
  deleteState(key: string, expectedVersion?: number): Promise<boolean>;
}

const ttl = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 });

function holderOf(entry: StateEntry | undefined): LeaseHolder | undefined {
  if (!entry || entry.value?.$case !== 'structValue') return undefined;
  const v = entry.value.structValue as { holder?: string; token?: number; data?: Record<string, string> };
  return { holder: String(v.holder ?? ''), token: Number(v.token ?? 0), data: v.data ?? {} };
}

/**
 * Leases on the memory service when there is no Redis: `leases/<resource>` is
 * a state entry written with a ttl (expired entries read as absent) and
 * compare-and-set on its version; the fencing token is the version of
 * `lease-fences/<resource>`, bumped on every acquisition and never expiring.
 * Renew and release read the entry and check the token before their
 * compare-and-set (versions restart at 1 when an expired entry is written
 * again). Costs a read and two writes per acquisition, a read and a write per renewal.
 *
 * Every replica must read the same entries: `memory` acts for one tenant on
 * every call, "default" (connectLeaseStateClient, or a memory port pinned
 * with forTenant('default')), never for whichever caller the lease is taken
 * for, or two tenants' calls would see two sets of leases. The resources name
 * their tenant (`agent/<tenant>/<id>`, `run/<tenant>/<id>`).
 */
export class MemoryStateLeaseStore implements LeaseStore {
  readonly kind = 'memory';

  constructor(
    private readonly memory: LeaseStateClient,
    private readonly keyPrefix = '',
  ) {}

  private leaseKey(resource: string): string {
    return `${this.keyPrefix}leases/${resource}`;
  }

  async acquire(resource: string, holder: string, ttlMs: number, data: Record<string, string>): Promise<AcquireResult> {
    const startedAt = Date.now();
    const entry = await this.memory.getState(this.leaseKey(resource));
    const current = holderOf(entry);
    if (entry && current && current.holder !== holder) return { acquired: false, owner: current };
    let token = current?.token ?? 0;
    if (!entry) token = (await this.memory.putState({ key: `${this.keyPrefix}lease-fences/${resource}`, value: { $case: 'structValue', structValue: {} } })).version;
    try {
      const written = await this.memory.putState({
        key: this.leaseKey(resource),
        value: { $case: 'structValue', structValue: { holder, token, data } },
        expectedVersion: entry?.version ?? 0,
        ttl: ttl(ttlMs),
      });
      return { acquired: true, lease: { resource, holder, token, data, validUntil: startedAt + ttlMs, stamp: String(written.version) } };
    } catch (error) {
      // Someone else took it between our read and our write.
      if (ElixirError.is(error, GrpcCode.ABORTED)) return { acquired: false, owner: holderOf(await this.memory.getState(this.leaseKey(resource))) };
      throw error;
    }
  }

  /** The entry if it still holds this lease. An expired entry is recreated at version 1, so the version alone cannot say it is ours: the token can. */
  private async current(lease: Lease): Promise<StateEntry | undefined> {
    const entry = await this.memory.getState(this.leaseKey(lease.resource));
    const holder = holderOf(entry);
    return entry && holder?.holder === lease.holder && holder.token === lease.token ? entry : undefined;
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease | undefined> {
    const startedAt = Date.now();
    try {
      const entry = await this.current(lease);
      if (!entry) return undefined;
      const written = await this.memory.putState({
        key: this.leaseKey(lease.resource),
        value: { $case: 'structValue', structValue: { holder: lease.holder, token: lease.token, data: lease.data } },
        expectedVersion: entry.version,
        ttl: ttl(ttlMs),
      });
      return { ...lease, stamp: String(written.version), validUntil: startedAt + ttlMs };
    } catch (error) {
      if (ElixirError.is(error, GrpcCode.ABORTED)) return undefined;
      throw error;
    }
  }

  async release(lease: Lease): Promise<boolean> {
    try {
      const entry = await this.current(lease);
      if (!entry) return false;
      return await this.memory.deleteState(this.leaseKey(lease.resource), entry.version);
    } catch (error) {
      if (ElixirError.is(error, GrpcCode.ABORTED)) return false;
      throw error;
    }
  }

  async holders(resources: string[]): Promise<Array<LeaseHolder | undefined>> {
    return Promise.all(resources.map(async (r) => holderOf(await this.memory.getState(this.leaseKey(r)))));
  }

  async close(): Promise<void> {}
}
