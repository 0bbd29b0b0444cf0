import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import {
  ToolSandboxServiceClient,
  ToolState,
  type InvokeToolResponse,
  type Tool as ProtoTool,
} from '@elixirchain/proto/sandbox';
import type { ToolManifest } from '../manifest/tool-manifest.js';
import { toProtoManifest, toProtoPermissions } from '../manifest/proto-manifest.js';
import type { ToolPermissions } from '../tool/tool-types.js';
import { ToolCallError } from './tool-call-error.js';
import type { ToolCallEvent, ToolCallResult } from './tool-call-event.js';

export interface ToolSandboxClientOptions {
  /** PEM CA file for TLS; plaintext when absent (a local or in-cluster sandbox). */
  caFile?: string;
  /** Deadline for unary calls, default 30 s. */
  timeoutMs?: number;
  /** Metadata sent with every call, e.g. { authorization: 'Bearer ...' }. */
  metadata?: Record<string, string>;
  /** How long the CLI waits to connect before it gives up (default 10 s). */
  connectTimeoutMs?: number;
}

/** A tool version as the sandbox holds it. */
export interface PublishedTool {
  name: string;
  version: string;
  /** "active" runs; "pending_grant" waits for an operator to grant `missingPermissions`. */
  state: 'active' | 'pending_grant' | 'unknown';
  missingPermissions: Required<ToolPermissions>;
  bundleSha256: string;
  bundleSize: number;
}

export interface InvokeOptions {
  /** Exact version or semver range; default the newest active version. */
  version?: string;
  callId?: string;
  /** Per-call wall-clock limit (at most the manifest's timeout). */
  timeoutMs?: number;
  /** Narrows the permissions this call may use (intersected with the grant). */
  grants?: ToolPermissions;
  signal?: AbortSignal;
  /** Called for every event as it arrives. */
  onEvent?: (event: ToolCallEvent) => void;
}

/** A small promise client for the sandbox's RegisterTool, GrantTool, GetTool and InvokeTool. */
export class ToolSandboxClient {
  readonly target: string;
  private readonly client: ToolSandboxServiceClient;
  private readonly timeoutMs: number;
  private readonly metadata: Record<string, string>;

  constructor(target: string, options: ToolSandboxClientOptions = {}) {
    this.target = target;
    const credentials = options.caFile ? grpc.credentials.createSsl(readFileSync(options.caFile)) : grpc.credentials.createInsecure();
    this.client = new ToolSandboxServiceClient(target, credentials, {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.metadata = options.metadata ?? {};
  }

  /** Resolves once connected; rejects with UNAVAILABLE naming the target. */
  async waitForReady(timeoutMs = 5000): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (error) =>
        error ? reject(new ToolCallError({ grpcCode: grpc.status.UNAVAILABLE, message: `cannot reach a tool-sandbox at ${this.target}: ${error.message}` })) : resolve(),
      );
    });
  }

  async registerTool(manifest: ToolManifest, bundle: string | Uint8Array, options: { grantPermissions?: boolean; requestId?: string } = {}): Promise<PublishedTool> {
    const response = await this.unary(this.client.registerTool.bind(this.client), {
      manifest: toProtoManifest(manifest),
      bundle: Buffer.from(typeof bundle === 'string' ? Buffer.from(bundle, 'utf8') : bundle),
      requestId: options.requestId ?? randomUUID(),
      grantPermissions: options.grantPermissions === true,
      shared: false,
    });
    return fromProtoTool(response.tool);
  }

  async grantTool(name: string, permissions: ToolPermissions): Promise<PublishedTool[]> {
    const response = await this.unary(this.client.grantTool.bind(this.client), {
      toolName: name,
      permissions: toProtoPermissions(permissions),
      requestId: randomUUID(),
      shared: false,
    });
    return response.activated.map(fromProtoTool);
  }

  async getTool(name: string, version = ''): Promise<PublishedTool> {
    const response = await this.unary(this.client.getTool.bind(this.client), { name, version, includeBundle: false });
    return fromProtoTool(response.tool);
  }

  /** Published tools: the newest version of each, or every version (of one tool, when named). */
  async listTools(options: { name?: string; allVersions?: boolean } = {}): Promise<PublishedTool[]> {
    const tools: PublishedTool[] = [];
    let pageToken = '';
    do {
      const response = await this.unary(this.client.listTools.bind(this.client), {
        pageSize: 100,
        pageToken,
        name: options.name ?? '',
        allVersions: options.allVersions === true,
      });
      tools.push(...response.tools.map(fromProtoTool));
      pageToken = response.nextPageToken;
    } while (pageToken);
    return tools;
  }

  /** Calls a tool and resolves with its output, or rejects with the call's ToolCallError. */
  async invokeTool<O = unknown>(name: string, input: Record<string, unknown>, options: InvokeOptions = {}): Promise<ToolCallResult<O>> {
    const events: ToolCallEvent[] = [];
    const metadata = this.callMetadata();
    const timeout = options.timeoutMs ? { seconds: Math.floor(options.timeoutMs / 1000), nanos: (options.timeoutMs % 1000) * 1e6 } : undefined;
    const stream = this.client.invokeTool(
      {
        name,
        version: options.version ?? '',
        input,
        callId: options.callId ?? '',
        grants: options.grants ? toProtoPermissions(options.grants) : undefined,
        timeout,
      },
      metadata,
    );
    const onAbort = () => stream.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let result: Extract<ToolCallEvent, { type: 'result' }> | undefined;
    let lastError: ToolCallError | undefined;
    try {
      for await (const message of stream as AsyncIterable<InvokeToolResponse>) {
        const event = fromProtoEvent(message);
        if (event === undefined) continue;
        events.push(event);
        options.onEvent?.(event);
        if (event.type === 'result') result = event;
        if (event.type === 'error' && !event.willRetry) lastError = event.error;
      }
    } catch (error) {
      if (options.signal?.aborted) {
        throw new ToolCallError({ grpcCode: grpc.status.CANCELLED, message: 'the call was cancelled by the caller' });
      }
      // The stream ends with the status of the failure; prefer the error event's details.
      throw lastError ?? ToolCallError.fromServiceError(error as grpc.ServiceError);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (lastError) throw lastError;
    if (!result) throw new ToolCallError({ grpcCode: grpc.status.INTERNAL, message: 'the sandbox ended the call without a result' });
    return { output: result.output as O, toolVersion: result.toolVersion, attempts: result.attempts, durationMs: result.durationMs, events };
  }

  close(): void {
    this.client.close();
  }

  private callMetadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(this.metadata)) metadata.set(key, value);
    return metadata;
  }

  private unary<Req, Res>(
    method: (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: (error: grpc.ServiceError | null, response: Res) => void) => grpc.ClientUnaryCall,
    request: Req,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      method(request, this.callMetadata(), { deadline: Date.now() + this.timeoutMs }, (error, response) =>
        error ? reject(ToolCallError.fromServiceError(error)) : resolve(response),
      );
    });
  }
}

function fromProtoTool(tool: ProtoTool | undefined): PublishedTool {
  const state = tool?.state === ToolState.TOOL_STATE_ACTIVE ? 'active' : tool?.state === ToolState.TOOL_STATE_PENDING_GRANT ? 'pending_grant' : 'unknown';
  return {
    name: tool?.manifest?.name ?? '',
    version: tool?.manifest?.version ?? '',
    state,
    missingPermissions: { network: tool?.missingPermissions?.networkHosts ?? [], secrets: tool?.missingPermissions?.secrets ?? [] },
    bundleSha256: tool?.manifest?.bundleSha256 ?? '',
    bundleSize: tool?.bundleSize ?? 0,
  };
}

function fromProtoEvent(message: InvokeToolResponse): ToolCallEvent | undefined {
  const sequence = message.sequence;
  const event = message.event;
  switch (event?.$case) {
    case 'started':
      return { type: 'started', sequence, callId: event.started.callId, toolVersion: event.started.toolVersion, attempt: event.started.attempt };
    case 'progress':
      return { type: 'progress', sequence, fraction: event.progress.fraction, message: event.progress.message };
    case 'log':
      return { type: 'log', sequence, level: event.log.level, message: event.log.message };
    case 'partial':
      return { type: 'partial', sequence, data: event.partial.data };
    case 'result': {
      const duration = event.result.duration;
      return {
        type: 'result',
        sequence,
        output: event.result.output,
        toolVersion: event.result.toolVersion,
        attempts: event.result.attempts,
        durationMs: duration ? duration.seconds * 1000 + Math.round(duration.nanos / 1e6) : 0,
      };
    }
    case 'error':
      return {
        type: 'error',
        sequence,
        error: ToolCallError.fromStatus(event.error.status ?? { code: grpc.status.UNKNOWN, message: 'no status', details: [] }),
        attempt: event.error.attempt,
        willRetry: event.error.willRetry,
      };
    default:
      return undefined;
  }
}
