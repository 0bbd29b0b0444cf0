import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import type { Status } from '@elixirchain/proto/google/rpc/status';
import { actingForTenant, connect, toRpcStatus, type ClientOptions, type ServiceClient } from '@elixirchain/runtime';
import type { ToolInfo, ToolInvocation, ToolOutcome, ToolRunner } from './tool-runner.js';

/** tool-sandbox over gRPC: manifests through GetTool, calls through the InvokeTool stream. */
export class GrpcToolRunner implements ToolRunner {
  readonly client: ServiceClient<typeof ToolSandboxServiceDefinition>;
  /** Set for a tenant's runner: the sandbox resolves that tenant's tools (and the shared ones). */
  private readonly metadata: Record<string, string> | undefined;
  private readonly owner: boolean;

  constructor(address: string | ServiceClient<typeof ToolSandboxServiceDefinition>, options?: ClientOptions, tenant?: string) {
    this.owner = typeof address === 'string';
    this.client = typeof address === 'string' ? connect(ToolSandboxServiceDefinition, address, options) : address;
    this.metadata = tenant ? actingForTenant('agent-host', tenant) : undefined;
  }

  forTenant(tenant: string): GrpcToolRunner {
    return new GrpcToolRunner(this.client, undefined, tenant);
  }

  async getTool(name: string, versionRange: string): Promise<ToolInfo> {
    const { tool } = await this.client.getTool({ name, version: versionRange }, { metadata: this.metadata });
    const m = tool?.manifest;
    return {
      name,
      version: m?.version ?? '',
      description: m?.description ?? '',
      inputSchema: m?.inputSchema ?? { type: 'object' },
      destructive: m?.annotations?.destructive ?? false,
      readOnly: m?.annotations?.readOnly ?? false,
      idempotent: m?.annotations?.idempotent ?? false,
      permissions: { networkHosts: m?.permissions?.networkHosts ?? [], secrets: m?.permissions?.secrets ?? [] },
    };
  }

  async invoke(call: ToolInvocation, signal: AbortSignal, onProgress: (fraction: number, message: string) => void): Promise<ToolOutcome> {
    let version = '';
    let lastError: Status | undefined;
    try {
      const stream = this.client.invokeTool(
        {
          name: call.name,
          version: call.version,
          input: call.input,
          callId: call.callId,
          ...(call.grants ? { grants: call.grants } : {}),
          ...(call.timeoutMs ? { timeout: { seconds: Math.floor(call.timeoutMs / 1000), nanos: (call.timeoutMs % 1000) * 1e6 } } : {}),
        },
        { signal, metadata: this.metadata },
      );
      for await (const response of stream) {
        const event = response.event;
        if (!event) continue;
        if (event.$case === 'started') version = event.started.toolVersion;
        else if (event.$case === 'progress') onProgress(event.progress.fraction, event.progress.message);
        else if (event.$case === 'result') return { ok: true, output: event.result.output ?? null, toolVersion: event.result.toolVersion || version };
        else if (event.$case === 'error' && !event.error.willRetry) lastError = event.error.status;
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      return { ok: false, status: lastError ?? toRpcStatus(error), toolVersion: version };
    }
    return { ok: false, status: lastError ?? { code: 13, message: 'tool-sandbox ended the call without a result', details: [] }, toolVersion: version };
  }

  close(): void {
    if (this.owner) this.client.close();
  }
}
