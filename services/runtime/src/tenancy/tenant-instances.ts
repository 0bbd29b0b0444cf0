// One instance of a service's engine per tenant (agent-host's AgentHost,
// chain-executor's ChainExecutor). A tenant's instance talks to the mesh for
// that tenant on every call (its ports are pinned), so the work it runs —
// including work detached from any caller and work resumed after a restart —
// never leaves its tenant. Tenant "default" (local developer mode, and
// services acting for nobody) keeps the instance built at start. Every tenant
// that ever used the service is remembered (in the default tenant's state),
// so a restart brings each tenant's instance back with its unfinished work,
// and with replicas a periodic scan also starts instances for tenants that
// another replica registered since.
import { effectiveTenant } from '../auth/principal.js';
import type { Logger } from '../logging/logger.js';
import { runDetached, type CallContext } from '../server/call-context.js';

/** How a service makes, opens and stops its per-tenant instances. */
export interface TenantInstanceKind<T> {
  /** Named in errors and logs, e.g. "agent-host". */
  service: string;
  /** Builds a tenant's instance over ports pinned to that tenant. */
  create(tenant: string): T;
  /** Brings a new instance up (resumes the tenant's unfinished work); if it throws, the instance is not kept. */
  open(instance: T, tenant: string): Promise<void>;
  /** With replicas: the instance takes over work whose owner died, every everyMs. */
  startTakeover(instance: T, everyMs: number): void;
  stop(instance: T): Promise<void>;
}

/** Where the tenants a service has served are remembered. */
export interface TenantRegistry {
  /** Notes a tenant (idempotent). */
  remember(tenant: string): Promise<void>;
  /** One page of remembered tenants. */
  list(pageToken: string): Promise<{ tenants: string[]; nextPageToken: string }>;
}

export class TenantInstances<T> {
  private readonly instances = new Map<string, Promise<T>>();
  private stopped = false;
  private takeoverScanMs: number | undefined;
  private tenantScan: NodeJS.Timeout | undefined;
  private scanningTenants = false;

  constructor(
    readonly defaultInstance: T,
    private readonly kind: TenantInstanceKind<T>,
    private readonly registry: TenantRegistry,
    private readonly log?: Logger,
  ) {}

  /** The instance serving a call: its caller's tenant (a service's forwarded caller). */
  forCall(call: CallContext): Promise<T> {
    return this.instanceFor(effectiveTenant(call.principal));
  }

  instanceFor(tenant: string): Promise<T> {
    if (!tenant || tenant === 'default' || tenant === '*') return Promise.resolve(this.defaultInstance);
    let instance = this.instances.get(tenant);
    if (!instance) {
      // Outside the call that needs it first: the instance (its lease renewals, takeover scans, resumed work) serves every later call.
      instance = runDetached(() => this.start(tenant));
      this.instances.set(tenant, instance);
      instance.catch(() => this.instances.delete(tenant));
    }
    return instance;
  }

  private async start(tenant: string): Promise<T> {
    if (this.stopped) throw new Error(`${this.kind.service} is stopping`);
    await this.registry.remember(tenant);
    const instance = this.kind.create(tenant);
    try {
      await this.kind.open(instance, tenant);
    } catch (error) {
      // Not kept: its leases go back, and the next call (or tenant scan) builds it again.
      await this.kind.stop(instance).catch(() => undefined);
      throw error;
    }
    if (this.takeoverScanMs !== undefined) this.kind.startTakeover(instance, this.takeoverScanMs);
    return instance;
  }

  /**
   * With replicas: every tenant's instance (the ones started so far and the
   * ones to come) takes over work whose owner died, every `everyMs`; and as
   * often, tenants another replica registered since get their instance here,
   * so their work is taken over too.
   */
  startTakeover(everyMs: number): void {
    if (this.takeoverScanMs !== undefined) return;
    this.takeoverScanMs = everyMs;
    this.kind.startTakeover(this.defaultInstance, everyMs);
    for (const instance of this.instances.values()) void instance.then((i) => this.kind.startTakeover(i, everyMs), () => undefined);
    this.tenantScan = setInterval(() => {
      if (this.scanningTenants || this.stopped) return;
      this.scanningTenants = true;
      this.resumeKnownTenants()
        .catch((err: unknown) => this.log?.warn({ err }, 'tenant scan failed'))
        .finally(() => (this.scanningTenants = false));
    }, everyMs);
    this.tenantScan.unref();
  }

  /** At start-up: every tenant this service ever served gets its instance back, and with it its unfinished work. */
  async resumeKnownTenants(): Promise<number> {
    let pageToken = '';
    let count = 0;
    do {
      const page = await this.registry.list(pageToken);
      for (const tenant of page.tenants) {
        try {
          await this.instanceFor(tenant);
          count++;
        } catch (error) {
          this.log?.error({ err: error, tenant }, `could not resume a tenant’s work on ${this.kind.service}`);
        }
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    return count;
  }

  /** Every instance started so far, the default one first. */
  async started(): Promise<T[]> {
    const instances = await Promise.allSettled([...this.instances.values()]);
    return [this.defaultInstance, ...instances.flatMap((i) => (i.status === 'fulfilled' ? [i.value] : []))];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.tenantScan);
    const instances = await Promise.allSettled([...this.instances.values()]);
    await Promise.all(instances.map((i) => (i.status === 'fulfilled' ? this.kind.stop(i.value) : undefined)));
  }
}
