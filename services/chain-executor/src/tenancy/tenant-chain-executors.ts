// One ChainExecutor per tenant. A tenant's executor keeps its definitions
// and run checkpoints in that tenant's memory, and its tool and agent steps
// run in that tenant (its ports name the tenant on every call), so runs that
// execute detached from any caller — and runs resumed after a restart —
// never leave their tenant. Tenant "default" keeps the executor built as
// before. With replicas every tenant's executor has its own run ownership
// (leases `run/<tenant>/<id>`), and startTakeover() scans every known
// tenant for runs whose executor died, including tenants another replica
// registered after this one started.
import { effectiveTenant, runDetached, type CallContext, type Logger } from '@elixirchain/runtime';
import type { ChainExecutor } from '../chain-executor.js';
import type { StateStore } from '../storage/state-store.js';

/** Where a tenant that ever used this executor is remembered (the default tenant's state). */
const TENANTS = 'chain-executor/tenants/';

export class TenantChainExecutors {
  private readonly executors = new Map<string, Promise<ChainExecutor>>();
  private stopped = false;
  private takeoverScanMs: number | undefined;
  private tenantScan: NodeJS.Timeout | undefined;
  private scanningTenants = false;

  constructor(
    readonly defaultExecutor: ChainExecutor,
    private readonly create: (tenant: string) => ChainExecutor,
    /** State of the default tenant: the list of tenants to resume lives there. */
    private readonly registry: StateStore,
    private readonly log?: Logger,
  ) {}

  forCall(call: CallContext): Promise<ChainExecutor> {
    return this.executorFor(effectiveTenant(call.principal));
  }

  executorFor(tenant: string): Promise<ChainExecutor> {
    if (!tenant || tenant === 'default' || tenant === '*') return Promise.resolve(this.defaultExecutor);
    let executor = this.executors.get(tenant);
    if (!executor) {
      // Outside the call that needs it first: the executor (its lease renewals, takeover scans, resumed runs) serves every later call.
      executor = runDetached(() => this.start(tenant));
      this.executors.set(tenant, executor);
      executor.catch(() => this.executors.delete(tenant));
    }
    return executor;
  }

  private async start(tenant: string): Promise<ChainExecutor> {
    if (this.stopped) throw new Error('chain-executor is stopping');
    if (!(await this.registry.get(`${TENANTS}${tenant}`))) await this.registry.put(`${TENANTS}${tenant}`, { tenant });
    const executor = this.create(tenant);
    // Runs this tenant left unfinished continue from their last checkpoint (with replicas: those nobody holds).
    executor.recover().catch((error: unknown) => this.log?.error({ err: error, tenant }, 'could not resume a tenant’s unfinished runs'));
    if (this.takeoverScanMs !== undefined) executor.runs.startTakeover(this.takeoverScanMs);
    return executor;
  }

  /**
   * With replicas: every tenant's executor (the ones started so far and the
   * ones to come) resumes unfinished runs whose lease nobody holds, every
   * `everyMs`; and as often, tenants another replica registered since get
   * their executor here, so their runs are taken over too.
   */
  startTakeover(everyMs: number): void {
    if (this.takeoverScanMs !== undefined) return;
    this.takeoverScanMs = everyMs;
    this.defaultExecutor.runs.startTakeover(everyMs);
    for (const executor of this.executors.values()) void executor.then((e) => e.runs.startTakeover(everyMs), () => undefined);
    this.tenantScan = setInterval(() => {
      if (this.scanningTenants || this.stopped) return;
      this.scanningTenants = true;
      this.resumeKnownTenants()
        .catch((err: unknown) => this.log?.warn({ err }, 'tenant scan failed'))
        .finally(() => (this.scanningTenants = false));
    }, everyMs);
    this.tenantScan.unref();
  }

  /** At start-up: every tenant this executor ever served gets its executor back, and with it its unfinished runs. */
  async resumeKnownTenants(): Promise<number> {
    let pageToken = '';
    let count = 0;
    do {
      const page = await this.registry.list(TENANTS, 500, pageToken, true);
      for (const entry of page.entries) {
        try {
          await this.executorFor(entry.key.slice(TENANTS.length));
          count++;
        } catch (error) {
          this.log?.error({ err: error, key: entry.key }, 'could not resume a tenant’s runs');
        }
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    return count;
  }

  /** Every executor started so far, the default one first (NodeStatusService sums their runs). */
  async started(): Promise<ChainExecutor[]> {
    const executors = await Promise.allSettled([...this.executors.values()]);
    return [this.defaultExecutor, ...executors.flatMap((e) => (e.status === 'fulfilled' ? [e.value] : []))];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.tenantScan);
    const executors = await Promise.allSettled([...this.executors.values()]);
    await Promise.all(executors.map((e) => (e.status === 'fulfilled' ? e.value.stop() : undefined)));
  }
}
