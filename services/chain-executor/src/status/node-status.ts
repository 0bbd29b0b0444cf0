import { nodeStatusService, type NodeStatusBinding } from '@elixirchain/runtime';
import type { TenantChainExecutors } from '../tenancy/tenant-chain-executors.js';

/** NodeStatusService for chain-executor: runs executing and queued, every tenant's executor in this process. */
export function chainExecutorNodeStatus(tenants: TenantChainExecutors, instanceId?: string): NodeStatusBinding {
  return nodeStatusService({
    service: 'chain-executor',
    instanceId,
    details: async () => {
      const load = { activeRuns: 0, queuedRuns: 0 };
      for (const executor of await tenants.started()) {
        load.activeRuns += executor.runs.activeRuns;
        load.queuedRuns += executor.runs.queuedRuns;
      }
      return { $case: 'chainExecutor', chainExecutor: load };
    },
  });
}
