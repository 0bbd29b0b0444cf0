import { EventEmitter } from 'node:events';
import { rootLogger, type Logger } from '../logging/logger.js';
import type { AcquireResult, Lease, LeaseHolder, LeaseStore } from './lease-store.js';

export interface LeaseManagerOptions {
  store: LeaseStore;
  /** This process's identity among replicas (unique per process incarnation). */
  holder: string;
  /** What others learn about the holder, e.g. `{ address }` for forwarding. */
  data?: Record<string, string>;
  ttlMs?: number;
  /** How often held leases are renewed (default ttl / 3). */
  renewEveryMs?: number;
  log?: Logger;
}

export interface LeaseManagerEvents {
  /** A lease we held is gone: taken after expiry, or not renewed in time (e.g. the process was paused). */
  lost: [resource: string, lease: Lease];
}

/**
 * The leases one process holds, renewed together on one timer. A lease whose
 * last successful renewal is older than its ttl is treated as lost at once,
 * before asking the store: after a long pause (GC, SIGSTOP) the process must
 * assume someone else owns the resource, and fencing tokens refuse its writes
 * in the meantime.
 */
export class LeaseManager extends EventEmitter<LeaseManagerEvents> {
  readonly holder: string;
  readonly ttlMs: number;
  private readonly held = new Map<string, Lease>();
  private readonly timer: NodeJS.Timeout;
  private readonly log: Logger;
  private renewing = false;
  private stopped = false;

  constructor(private readonly options: LeaseManagerOptions) {
    super();
    this.holder = options.holder;
    this.ttlMs = options.ttlMs ?? 10_000;
    this.log = options.log ?? rootLogger.child({ component: 'leases' });
    this.timer = setInterval(() => void this.renewAll(), options.renewEveryMs ?? Math.max(50, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** What new acquisitions advertise (e.g. the address, once the server is bound). */
  setData(data: Record<string, string>): void {
    this.options.data = data;
  }

  get store(): LeaseStore {
    return this.options.store;
  }

  /** Takes (or keeps) the lease on a resource, or says who holds it. */
  async acquire(resource: string): Promise<AcquireResult> {
    if (this.stopped) return { acquired: false, owner: undefined };
    const own = this.valid(resource);
    if (own) return { acquired: true, lease: own };
    const result = await this.options.store.acquire(resource, this.holder, this.ttlMs, this.options.data ?? {});
    if (result.acquired) this.held.set(resource, result.lease);
    return result;
  }

  /** The lease we hold on a resource, if it is still within its ttl by our clock. */
  valid(resource: string): Lease | undefined {
    const lease = this.held.get(resource);
    if (!lease) return undefined;
    if (Date.now() < lease.validUntil) return lease;
    this.lose(resource, lease);
    return undefined;
  }

  heldResources(): string[] {
    return [...this.held.keys()];
  }

  holders(resources: string[]): Promise<Array<LeaseHolder | undefined>> {
    return this.options.store.holders(resources);
  }

  async release(resource: string): Promise<void> {
    const lease = this.held.get(resource);
    if (!lease) return;
    this.held.delete(resource);
    try {
      await this.options.store.release(lease);
    } catch (err) {
      // It expires on its own.
      this.log.warn({ err, resource }, 'could not release a lease');
    }
  }

  private lose(resource: string, lease: Lease): void {
    if (this.held.get(resource) !== lease) return;
    this.held.delete(resource);
    this.log.warn({ resource, token: lease.token }, 'lease lost');
    this.emit('lost', resource, lease);
  }

  /** Renews every held lease; visible for tests. */
  async renewAll(): Promise<void> {
    if (this.renewing || this.stopped) return;
    this.renewing = true;
    try {
      await Promise.all(
        [...this.held.entries()].map(async ([resource, lease]) => {
          if (Date.now() >= lease.validUntil) return this.lose(resource, lease);
          try {
            const renewed = await this.options.store.renew(lease, this.ttlMs);
            if (this.held.get(resource) !== lease) return;
            if (renewed) this.held.set(resource, renewed);
            else this.lose(resource, lease);
          } catch (err) {
            // Store unreachable: keep the lease until its ttl passes by our clock, then give it up.
            this.log.warn({ err, resource }, 'lease renewal failed');
            if (Date.now() >= lease.validUntil) this.lose(resource, lease);
          }
        }),
      );
    } finally {
      this.renewing = false;
    }
  }

  /** Releases every lease and stops renewing; idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    const leases = [...this.held.values()];
    this.held.clear();
    await Promise.allSettled(leases.map((l) => this.options.store.release(l)));
  }
}
