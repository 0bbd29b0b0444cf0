/** Who holds a resource: the holder's id, its fencing token and what it advertises (e.g. its address). */
export interface LeaseHolder {
  holder: string;
  /** Monotonic per resource: every new acquisition gets a larger one, so stale holders can be fenced off. */
  token: number;
  data: Record<string, string>;
}

/** A lease this process holds. `validUntil` is a local, conservative estimate (start of the last successful call + ttl). */
export interface Lease extends LeaseHolder {
  resource: string;
  validUntil: number;
  /** Opaque value the store compares on renew and release. */
  readonly stamp: string;
}

export type AcquireResult = { acquired: true; lease: Lease } | { acquired: false; owner: LeaseHolder | undefined };

/**
 * Where leases live: Redis (RedisLeaseStore) or the memory service's
 * key/value state (MemoryStateLeaseStore). Every method is atomic in the store.
 */
export interface LeaseStore {
  readonly kind: 'redis' | 'memory';
  /** Takes the lease if it is free or already ours (then renews it); otherwise says who holds it. */
  acquire(resource: string, holder: string, ttlMs: number, data: Record<string, string>): Promise<AcquireResult>;
  /** Extends a lease we hold; false when it is no longer ours (expired and taken, or released). */
  renew(lease: Lease, ttlMs: number): Promise<Lease | undefined>;
  /** Gives the lease up if it is still ours. */
  release(lease: Lease): Promise<boolean>;
  /** Current holders, in the order asked (undefined: free). */
  holders(resources: string[]): Promise<Array<LeaseHolder | undefined>>;
  close(): Promise<void>;
}
