import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { actingForTenant, connect, ElixirError, fromRpcStatus, GrpcCode } from '@elixirchain/runtime';
import type { ServiceClient } from '@elixirchain/runtime';
import type { ToolDescription, ToolInvocation, ToolStepRunner } from './step-runners.js';

const SANDBOX_TIMEOUT_MARGIN_MS = 1_000;
const backstop = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: Math.round(ms % 1000) * 1e6 });

/**
 * Tool steps through tool-sandbox's InvokeTool stream. Aborting the step's
 * signal cancels the stream, which tells the sandbox to stop the call
 * (dispose its isolate); it is how CancelRun and parallel losers stop tools.
 */
export class GrpcToolStepRunner implements ToolStepRunner {
  readonly client: ServiceClient<typeof ToolSandboxServiceDefinition>;
  private readonly descriptions = new Map<string, { at: number; description: ToolDescription | undefined }>();

  /** Set for a tenant's runner: the sandbox resolves that tenant's tools (and the shared ones). */
  private readonly metadata: Record<string, string> | undefined;
  private readonly owner: boolean;

  constructor(address: string | ServiceClient<typeof ToolSandboxServiceDefinition>, tenant?: string) {
    this.owner = typeof address === 'string';
    this.client = typeof address === 'string' ? connect(ToolSandboxServiceDefinition, address) : address;
    this.metadata = tenant ? actingForTenant('chain-executor', tenant) : undefined;
  }

  forTenant(tenant: string): GrpcToolStepRunner {
    return new GrpcToolStepRunner(this.client, tenant);
  }

  async invoke(call: ToolInvocation): Promise<unknown> {
    const stream = this.client.invokeTool(
      {
        name: call.tool,
        version: call.version,
        input: call.input,
        callId: call.callId,
        // A backstop only: the step's own deadline fires first and cancels the call, so the
        // step fails with DEADLINE_EXCEEDED rather than with whatever the tool throws when aborted.
        timeout: call.timeoutMs ? backstop(call.timeoutMs + SANDBOX_TIMEOUT_MARGIN_MS) : undefined,
      },
      { signal: call.signal, metadata: this.metadata },
    );
    let lastError: ElixirError | undefined;
    for await (const message of stream) {
      const event = message.event;
      if (!event) continue;
      switch (event.$case) {
        case 'progress':
          call.onProgress(event.progress.fraction, event.progress.message);
          break;
        case 'result':
          return event.result.output ?? null;
        case 'error':
          lastError = event.error.status ? fromRpcStatus(event.error.status) : new ElixirError(GrpcCode.UNKNOWN, 'TOOL_FAILED', 'tool failed');
          if (!event.error.willRetry) throw lastError;
          break;
        default:
          break;
      }
    }
    if (call.signal.aborted) throw call.signal.reason;
    throw lastError ?? new ElixirError(GrpcCode.INTERNAL, 'TOOL_STREAM_ENDED', `tool ${call.tool} ended its stream without a result`);
  }

  async describe(tool: string, version: string): Promise<ToolDescription | undefined> {
    const key = `${tool}@${version}`;
    const cached = this.descriptions.get(key);
    if (cached && Date.now() - cached.at < 5_000) return cached.description;
    let description: ToolDescription | undefined;
    try {
      const res = await this.client.getTool({ name: tool, version, includeBundle: false }, { metadata: this.metadata });
      const manifest = res.tool?.manifest;
      const annotations = manifest?.annotations;
      description = manifest && {
        name: manifest.name,
        version: manifest.version,
        idempotent: annotations?.idempotent ?? false,
        readOnly: annotations?.readOnly ?? false,
        destructive: annotations?.destructive ?? false,
      };
    } catch (error) {
      if (!(error instanceof ElixirError && error.code === GrpcCode.NOT_FOUND)) throw error;
    }
    this.descriptions.set(key, { at: Date.now(), description });
    return description;
  }

  close(): void {
    if (this.owner) this.client.close();
  }
}
