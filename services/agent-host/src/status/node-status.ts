import { nodeStatusService, type NodeStatusBinding } from '@elixirchain/runtime';
import { processAgentHostLoad } from '../metrics/agent-host-metrics.js';

/**
 * NodeStatusService for agent-host: resident and active agents, running turns
 * and mailbox depths, read from the same sum the OpenTelemetry gauges report
 * (every tenant's AgentHost in this process).
 */
export function agentHostNodeStatus(instanceId?: string): NodeStatusBinding {
  return nodeStatusService({
    service: 'agent-host',
    instanceId,
    details: () => {
      const load = processAgentHostLoad();
      return {
        $case: 'agentHost',
        agentHost: {
          residentAgents: load.residentAgents,
          activeAgents: load.activeAgents,
          runningTurns: load.runningTurns,
          mailboxDepthTotal: load.mailboxDepth,
          mailboxDepthMax: load.mailboxMaxDepth,
        },
      };
    },
  });
}
