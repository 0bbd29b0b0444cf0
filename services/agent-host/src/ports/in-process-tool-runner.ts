import { errors, toRpcStatus } from '@elixirchain/runtime';
import type { ToolInfo, ToolInvocation, ToolOutcome, ToolRunner } from './tool-runner.js';

export interface InProcessTool extends Partial<Omit<ToolInfo, 'name'>> {
  name: string;
  run: (input: Record<string, unknown>, ctx: { signal: AbortSignal; callId: string; progress: (fraction: number, message: string) => void }) => unknown;
}

/** Tools as plain functions in this process, with the sandbox's contract; for tests and benchmarks. */
export class InProcessToolRunner implements ToolRunner {
  private readonly tools = new Map<string, InProcessTool>();
  /** Invocations by tool name, so tests can prove a tool ran exactly once. */
  readonly invocations: Array<{ name: string; callId: string; input: Record<string, unknown>; grants?: ToolInvocation['grants'] }> = [];

  constructor(tools: InProcessTool[] = []) {
    for (const tool of tools) this.register(tool);
  }

  register(tool: InProcessTool): void {
    this.tools.set(tool.name, tool);
  }

  async getTool(name: string): Promise<ToolInfo> {
    const tool = this.tools.get(name);
    if (!tool) throw errors.notFound('tool', name);
    return {
      name,
      version: tool.version ?? '1.0.0',
      description: tool.description ?? name,
      inputSchema: tool.inputSchema ?? { type: 'object', properties: {} },
      destructive: tool.destructive ?? false,
      readOnly: tool.readOnly ?? false,
      idempotent: tool.idempotent ?? false,
      permissions: tool.permissions ?? { networkHosts: [], secrets: [] },
    };
  }

  async invoke(call: ToolInvocation, signal: AbortSignal, onProgress: (fraction: number, message: string) => void): Promise<ToolOutcome> {
    const tool = this.tools.get(call.name);
    const version = tool?.version ?? '1.0.0';
    if (!tool) return { ok: false, status: toRpcStatus(errors.notFound('tool', call.name)), toolVersion: '' };
    this.invocations.push({ name: call.name, callId: call.callId, input: call.input, ...(call.grants ? { grants: call.grants } : {}) });
    try {
      const output = await tool.run(call.input, { signal, callId: call.callId, progress: onProgress });
      return { ok: true, output, toolVersion: version };
    } catch (error) {
      return { ok: false, status: toRpcStatus(errors.internal('TOOL_FAILED', (error as Error).message)), toolVersion: version };
    }
  }
}
