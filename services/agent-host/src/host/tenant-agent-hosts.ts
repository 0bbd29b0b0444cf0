// One AgentHost per tenant. A tenant's host talks to memory and the sandbox
// for that tenant on every call (its ports are pinned), so its actors,
// threads and turns — including turns that run detached from any caller and
// turns resumed after a restart — only ever touch that tenant's data, and
// one tenant's agent or thread id means nothing to another tenant's host.
// Tenant "default" (local developer mode, and services acting for nobody)
// keeps the host built as before. With replicas every tenant's host has its
// own replica ownership (leases `agent/<tenant>/<id>`), and startTakeover()
// scans every known tenant for agents whose owner died, including tenants
// another replica registered after this one started.
import { effectiveTenant, runDetached, type CallContext, type Logger } from '@elixirchain/runtime';
import type { AgentHost } from './agent-host.js';
import type { MemoryPort } from '../ports/memory-port.js';

/** Where a tenant that ever used this agent-host is remembered (in the default tenant's state). */
const TENANTS = 'agent-host/tenants/';

export class TenantAgentHosts {
  private readonly hosts = new Map<string, Promise<AgentHost>>();
  private stopped = false;
  private takeoverScanMs: number | undefined;
  private tenantScan: NodeJS.Timeout | undefined;
  private scanningTenants = false;

  constructor(
    readonly defaultHost: AgentHost,
    /** Builds a tenant's host over ports pinned to it. */
    private readonly create: (tenant: string) => AgentHost,
    /** Memory acting for the default tenant: the list of tenants to resume lives there. */
    private readonly registry: MemoryPort,
    private readonly log?: Logger,
  ) {}

  /** The host serving a call: its caller's tenant (a service's forwarded caller). */
  forCall(call: CallContext): Promise<AgentHost> {
    return this.hostFor(effectiveTenant(call.principal));
  }

  hostFor(tenant: string): Promise<AgentHost> {
    if (tenant === 'default' || tenant === '*' || !tenant) return Promise.resolve(this.defaultHost);
    let host = this.hosts.get(tenant);
    if (!host) {
      // Outside the call that needs it first: the host (its lease renewals, takeover scans, resumed turns) serves every later call.
      host = runDetached(() => this.start(tenant));
      this.hosts.set(tenant, host);
      host.catch(() => this.hosts.delete(tenant));
    }
    return host;
  }

  private async start(tenant: string): Promise<AgentHost> {
    if (this.stopped) throw new Error('agent-host is stopping');
    await this.registry.putState({ key: `${TENANTS}${tenant}`, value: { $case: 'structValue', structValue: { tenant } } });
    const host = this.create(tenant);
    try {
      // Turns this tenant left unfinished (a previous process) pick up from their checkpoints.
      await host.resume(await host.findUnfinished());
    } catch (error) {
      // Not kept: its leases go back, and the next call (or tenant scan) builds it again.
      await host.stop().catch(() => undefined);
      throw error;
    }
    if (this.takeoverScanMs !== undefined) host.startTakeover(this.takeoverScanMs);
    return host;
  }

  /**
   * With replicas: every tenant's host (the ones started so far and the ones
   * to come) takes over agents with unfinished turns whose owner died, every
   * `everyMs`; and as often, tenants another replica registered since get
   * their host here, so their agents are taken over too.
   */
  startTakeover(everyMs: number): void {
    if (this.takeoverScanMs !== undefined) return;
    this.takeoverScanMs = everyMs;
    this.defaultHost.startTakeover(everyMs);
    for (const host of this.hosts.values()) void host.then((h) => h.startTakeover(everyMs), () => undefined);
    this.tenantScan = setInterval(() => {
      if (this.scanningTenants || this.stopped) return;
      this.scanningTenants = true;
      this.resumeKnownTenants()
        .catch((err: unknown) => this.log?.warn({ err }, 'tenant scan failed'))
        .finally(() => (this.scanningTenants = false));
    }, everyMs);
    this.tenantScan.unref();
  }

  /** At start-up: every tenant this agent-host ever served gets its host back, and with it its unfinished turns. */
  async resumeKnownTenants(): Promise<number> {
    let pageToken = '';
    let count = 0;
    do {
      const page = await this.registry.listState({ prefix: TENANTS, keysOnly: true, pageSize: 500, pageToken });
      for (const entry of page.entries) {
        const tenant = entry.key.slice(TENANTS.length);
        try {
          await this.hostFor(tenant);
          count++;
        } catch (error) {
          this.log?.error({ err: error, tenant }, 'could not resume a tenant’s agents');
        }
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    return count;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.tenantScan);
    const hosts = await Promise.allSettled([...this.hosts.values()]);
    await Promise.all(hosts.map((h) => (h.status === 'fulfilled' ? h.value.stop() : undefined)));
  }
}
