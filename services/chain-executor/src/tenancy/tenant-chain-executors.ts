// One ChainExecutor per tenant (the runtime's TenantInstances). A tenant's
// executor keeps its definitions and run checkpoints in that tenant's memory,
// and its tool and agent steps run in that tenant (its ports name the tenant
// on every call), so runs that execute detached from any caller — and runs
// resumed after a restart — never leave their tenant. With replicas every
// tenant's executor has its own run ownership (leases `run/<tenant>/<id>`).
import { TenantInstances, type Logger, type TenantRegistry } from '@elixirchain/runtime';
import type { ChainExecutor } from '../chain-executor.js';
import type { StateStore } from '../storage/state-store.js';

/** Where a tenant that ever used this executor is remembered (the default tenant's state). */
const TENANTS = 'chain-executor/tenants/';

export class TenantChainExecutors extends TenantInstances<ChainExecutor> {
  constructor(
    defaultExecutor: ChainExecutor,
    create: (tenant: string) => ChainExecutor,
    /** State of the default tenant: the list of tenants to resume lives there. */
    registry: StateStore,
    log?: Logger,
  ) {
    super(
      defaultExecutor,
      {
        service: 'chain-executor',
        create,
        // Runs this tenant left unfinished continue from their last checkpoint (with replicas: those nobody holds),
        // in the background: the executor serves calls meanwhile.
        open: async (executor, tenant) => {
          executor.recover().catch((error: unknown) => log?.error({ err: error, tenant }, 'could not resume a tenant’s unfinished runs'));
        },
        startTakeover: (executor, everyMs) => executor.runs.startTakeover(everyMs),
        stop: (executor) => executor.stop(),
      },
      stateTenantRegistry(registry),
      log,
    );
  }

  get defaultExecutor(): ChainExecutor {
    return this.defaultInstance;
  }

  executorFor(tenant: string): Promise<ChainExecutor> {
    return this.instanceFor(tenant);
  }
}

function stateTenantRegistry(state: StateStore): TenantRegistry {
  return {
    remember: async (tenant) => {
      if (!(await state.get(`${TENANTS}${tenant}`))) await state.put(`${TENANTS}${tenant}`, { tenant });
    },
    list: async (pageToken) => {
      const page = await state.list(TENANTS, 500, pageToken, true);
      return { tenants: page.entries.map((e) => e.key.slice(TENANTS.length)), nextPageToken: page.nextPageToken };
    },
  };
}
