// One AgentHost per tenant (the runtime's TenantInstances). A tenant's host
// talks to memory and the sandbox for that tenant on every call (its ports
// are pinned), so its actors, threads and turns — including turns that run
// detached from any caller and turns resumed after a restart — only ever
// touch that tenant's data, and one tenant's agent or thread id means nothing
// to another tenant's host. With replicas every tenant's host has its own
// replica ownership (leases `agent/<tenant>/<id>`).
import { TenantInstances, type Logger, type TenantRegistry } from '@elixirchain/runtime';
import { AgentHost, type AgentHostOptions } from './agent-host.js';
import type { MemoryPort } from '../ports/memory-port.js';
import type { ReplicaOwnership } from '../ownership/replica-ownership.js';
import type { GrpcMemoryPort } from '../ports/grpc-memory-port.js';
import type { GrpcToolRunner } from '../ports/grpc-tool-runner.js';

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

  /**
   * The hosts of a process on the gRPC ports: the default tenant's on `memory` and `tools` as given, every
   * other tenant's (built on its first call) on ports pinned to it; with replicas each with its tenant's ownership.
   */
  static overGrpc(memory: GrpcMemoryPort, tools: GrpcToolRunner, replicas: ReplicaOwnership | undefined, settings: Omit<AgentHostOptions, 'memory' | 'tools' | 'ownership'>): TenantAgentHosts {
    const hostFor = (tenant: string) => {
      const tenantMemory = tenant === 'default' ? memory : memory.forTenant(tenant);
      return new AgentHost({ ...settings, memory: tenantMemory, tools: tenant === 'default' ? tools : tools.forTenant(tenant), ownership: replicas?.forTenant(tenant, tenantMemory) });
    };
    return new TenantAgentHosts(hostFor('default'), hostFor, memory.forTenant('default'), settings.log);
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
