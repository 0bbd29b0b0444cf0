import { ChainServiceDefinition } from '@elixirchain/proto/chain';
import { connect, errors, type CallContext, type LeaseManager, type ServiceClient } from '@elixirchain/runtime';
import type { RunCheckpoint, RunCheckpointStore, RunFilter } from './run-checkpoint-store.js';

const DEFAULT_TENANT = 'default';

/**
 * The lease of a tenant's run: `run/<tenant>/<runId>`, except tenant
 * "default", whose runs keep the `run/<runId>` they had before tenants had
 * replica ownership (a rolling upgrade keeps them). Run ids (derived from the
 * chain and request id, so equal in two tenants that use the same ones) and
 * tenant names have no "/", so no two tenants' runs share a lease.
 */
export const runResource = (tenant: string, runId: string) => (tenant === DEFAULT_TENANT ? `run/${runId}` : `run/${tenant}/${runId}`);

/**
 * Chain runs across chain-executor replicas: the replica that starts (or
 * resumes) a run holds its lease while it executes; a replica that finds an
 * unfinished run whose lease nobody holds (its executor died) takes it over
 * and resumes it from its checkpoints. Watchers and cancels reaching another
 * replica are forwarded to the owner's address, which the lease carries.
 */
export class RunOwnership {
  private readonly clients = new Map<string, ServiceClient<typeof ChainServiceDefinition>>();

  private readonly prefix: string;

  /** `leases` holds this tenant's runs only (each tenant's executor has its own manager, all under one holder id). */
  constructor(
    readonly leases: LeaseManager,
    readonly tenant = DEFAULT_TENANT,
  ) {
    this.prefix = runResource(tenant, '');
  }

  /** The run a lease resource names, when it is one of this tenant's runs. */
  runOf(resource: string): string | undefined {
    if (!resource.startsWith(this.prefix)) return undefined;
    const runId = resource.slice(this.prefix.length);
    return runId && !runId.includes('/') ? runId : undefined;
  }

  /**
   * Call options for a call forwarded to the owner: the caller's own
   * credentials, so the owner serves it as the caller (same tenant, same
   * role, nothing more); without them (local mode, mTLS callers) this
   * replica's credentials with the caller forwarded on behalf, as connect() does.
   */
  forwardOptions(call: CallContext): { signal: AbortSignal; metadata?: Record<string, string> } {
    const authorization = call.metadata.get('authorization')[0];
    return typeof authorization === 'string' ? { signal: call.signal, metadata: { authorization } } : { signal: call.signal };
  }

  setAddress(address: string): void {
    this.leases.setData({ address, replica: this.leases.holder });
  }

  async acquire(runId: string): Promise<boolean> {
    return (await this.leases.acquire(runResource(this.tenant, runId))).acquired;
  }

  holds(runId: string): boolean {
    return this.leases.valid(runResource(this.tenant, runId)) !== undefined;
  }

  release(runId: string): Promise<void> {
    return this.leases.release(runResource(this.tenant, runId));
  }

  /** The address of the replica executing the run, when it is not this one. */
  async remoteOwner(runId: string): Promise<string | undefined> {
    if (this.holds(runId)) return undefined;
    const [holder] = await this.leases.holders([runResource(this.tenant, runId)]);
    if (!holder || holder.holder === this.leases.holder) return undefined;
    return holder.data.address || undefined;
  }

  client(address: string): ServiceClient<typeof ChainServiceDefinition> {
    let client = this.clients.get(address);
    if (!client) {
      client = connect(ChainServiceDefinition, address);
      this.clients.set(address, client);
    }
    return client;
  }

  async stop(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    await this.leases.stop();
  }
}

/**
 * Refuses a run's checkpoint once this replica's lease on the run is past
 * its ttl by its own clock (paused, partitioned), so a replica that lost a
 * run stops writing it before another resumes it. In memory, each event row
 * is written with compare-and-set "must not exist" at its first sequence:
 * a replica that lost the run and the one that took it over both append at
 * the sequence after the last durable one, so only one of them can; the
 * loser's checkpoint fails (its other runs' writes in the same batch are
 * retried alone and land), it writes nothing more for that run, and never
 * dispatches the tool or agent step that checkpoint was to make durable.
 */
export class LeasedRunCheckpointStore implements RunCheckpointStore {
  constructor(
    private readonly inner: RunCheckpointStore,
    private readonly ownership: RunOwnership,
  ) {}

  get durable(): boolean {
    return this.inner.durable;
  }

  getRun(runId: string) {
    return this.inner.getRun(runId);
  }

  checkpoint(runId: string, take: () => RunCheckpoint): Promise<void> {
    if (!this.ownership.holds(runId)) return Promise.reject(errors.aborted('RUN_LEASE_LOST', `this chain-executor replica no longer holds run ${runId}`, { runId }));
    return this.inner.checkpoint(runId, take);
  }

  loadEvents(runId: string, afterSequence: number) {
    return this.inner.loadEvents(runId, afterSequence);
  }

  listRuns(filter: RunFilter, pageSize: number, pageToken: string) {
    return this.inner.listRuns(filter, pageSize, pageToken);
  }

  unfinishedRuns() {
    return this.inner.unfinishedRuns();
  }
}
