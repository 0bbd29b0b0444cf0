// One AgentHost per tenant (the runtime's TenantInstances). A tenant's host
// talks to memory and the sandbox for that tenant on every call (its ports
// are pinned), so its actors, threads and turns — including turns that run
// detached from any caller and turns resumed after a restart — only ever
// touch that tenant's data, and one tenant's agent or thread id means nothing
// to another tenant's host. With replicas every tenant's host has its own
// replica ownership (leases `agent/<tenant>/<id>`).
import { TenantInstances, type Logger, type TenantRegistry } from '@elixirchain/runtime';
import type { AgentHost } from './agent-host.js';
import type { MemoryPort } from '../ports/memory-port.js';

/** Where a tenant that ever used this agent-host is remembered (in the default tenant's state). */
const TENANTS = 'agent-host/tenants/';

export class TenantAgentHosts extends TenantInstances<AgentHost> {
  constructor(
    defaultHost: AgentHost,
    /** Builds a tenant's host over ports pinned to it. */
    create: (tenant: string) => AgentHost,
    /** Memory acting for the default tenant: the list of tenants to resume lives there. */
    registry: MemoryPort,
    log?: Logger,
  ) {
    super(
      defaultHost,
      {
        service: 'agent-host',
        create,
        // Turns this tenant left unfinished (a previous process) pick up from their checkpoints.
        open: async (host) => host.resume(await host.findUnfinished()),
        startTakeover: (host, everyMs) => host.startTakeover(everyMs),
        stop: (host) => host.stop(),
      },
      memoryTenantRegistry(registry),
      log,
    );
  }

  get defaultHost(): AgentHost {
    return this.defaultInstance;
  }

  hostFor(tenant: string): Promise<AgentHost> {
    return this.instanceFor(tenant);
  }
}

function memoryTenantRegistry(memory: MemoryPort): TenantRegistry {
  return {
    remember: async (tenant) => {
      await memory.putState({ key: `${TENANTS}${tenant}`, value: { $case: 'structValue', structValue: { tenant } } });
    },
    list: async (pageToken) => {
      const page = await memory.listState({ prefix: TENANTS, keysOnly: true, pageSize: 500, pageToken });
      return { tenants: page.entries.map((e) => e.key.slice(TENANTS.length)), nextPageToken: page.nextPageToken };
    },
  };
}
