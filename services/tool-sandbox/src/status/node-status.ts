import { nodeStatusService, type NodeStatusBinding } from '@elixirchain/runtime';
import type { ToolSandbox } from '../sandbox/tool-sandbox.js';

/** NodeStatusService for tool-sandbox: the worker pool as its gauges see it (workers, busy ones, calls, slots, queue). */
export function toolSandboxNodeStatus(sandbox: ToolSandbox): NodeStatusBinding {
  return nodeStatusService({
    service: 'tool-sandbox',
    details: () => ({ $case: 'toolSandbox', toolSandbox: sandbox.poolUtilisation() }),
  });
}
