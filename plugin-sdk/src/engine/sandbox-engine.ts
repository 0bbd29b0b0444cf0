import { createSandbox, type SandboxEvent, type ToolSandbox } from '@elixirchain/tool-sandbox';
import { ToolCallError, type FieldViolation } from '../client/tool-call-error.js';
import type { ToolCallEvent, ToolCallResult } from '../client/tool-call-event.js';
import { toProtoManifest, toProtoPermissions } from '../manifest/proto-manifest.js';
import type { ToolManifest } from '../manifest/tool-manifest.js';
import type { ToolPermissions } from '../tool/tool-types.js';
import { TestHostRouting } from './test-host-routing.js';

export interface SandboxEngineOptions {
  /** Secret values the operator would configure (name → value). */
  secrets?: Record<string, string>;
  /**
   * Hosts that lead to a local server for this engine only, e.g.
   * { 'api.weather.example': 'http://127.0.0.1:4100' }. Production refuses
   * loopback addresses; a test declares the exceptions it needs.
   */
  testHosts?: Record<string, string>;
}

export interface EngineInvokeOptions {
  version?: string;
  callId?: string;
  timeoutMs?: number;
  grants?: ToolPermissions;
  signal?: AbortSignal;
  onEvent?: (event: ToolCallEvent) => void;
}

/** The production sandbox engine, in this process: what `test` and `verify` run tools in. */
export interface SandboxEngine {
  /** Registers (compiles, links, evaluates) a version; `grant` defaults to what the manifest asks. */
  register(manifest: ToolManifest, code: string, options?: { grant?: ToolPermissions }): Promise<void>;
  invoke(name: string, input: Record<string, unknown>, options?: EngineInvokeOptions): Promise<ToolCallResult>;
  close(): Promise<void>;
}

/** Engine errors (the runtime's ElixirError) as seen through their public fields. */
interface EngineError {
  code: number;
  reason?: string;
  message: string;
  fieldViolations?: FieldViolation[];
  retryAfterMs?: number;
  metadata?: Record<string, string>;
}

/**
 * Starts the sandbox engine the tool-sandbox service runs (the same
 * `ToolSandbox` class, worker processes, isolates, schema checks, grants and
 * fetch guard), with one worker: a test runs one tool at a time.
 */
export async function openSandboxEngine(options: SandboxEngineOptions = {}): Promise<SandboxEngine> {
  const routing = new TestHostRouting(options.testHosts ?? {});
  const sandbox: ToolSandbox = await createSandbox({
    secrets: options.secrets ?? {},
    pool: { workers: 1, maxRestarts: 5, restartWithinMs: 10_000 },
    ...routing.sandboxOptions(),
  });
  try {
    routing.install(sandbox);
  } catch (error) {
    await sandbox.stop();
    throw error;
  }
  let closed = false;
  return {
    async register(manifest, code, registerOptions = {}) {
      try {
        const grant = registerOptions.grant;
        await sandbox.register(toProtoManifest(manifest), Buffer.from(code, 'utf8'), { grantPermissions: grant === undefined });
        if (grant !== undefined && (grant.network?.length || grant.secrets?.length)) {
          await sandbox.grant(manifest.name, toProtoPermissions(grant));
        }
      } catch (error) {
        throw toToolCallError(error);
      }
    },

    async invoke(name, input, invokeOptions = {}) {
      const events: ToolCallEvent[] = [];
      let failure: ToolCallError | undefined;
      try {
        const stream = sandbox.invoke(
          {
            name,
            version: invokeOptions.version,
            input,
            callId: invokeOptions.callId,
            timeoutMs: invokeOptions.timeoutMs,
            grants: invokeOptions.grants ? toProtoPermissions(invokeOptions.grants) : undefined,
          },
          { signal: invokeOptions.signal },
        );
        for await (const raw of stream) {
          const event = fromEngineEvent(raw);
          events.push(event);
          invokeOptions.onEvent?.(event);
          if (event.type === 'result') {
            return { output: event.output, toolVersion: event.toolVersion, attempts: event.attempts, durationMs: event.durationMs, events };
          }
          if (event.type === 'error' && !event.willRetry) failure = event.error;
        }
      } catch (error) {
        throw toToolCallError(error);
      }
      throw failure ?? new ToolCallError({ grpcCode: 13, message: 'the call ended without a result' });
    },

    async close() {
      if (closed) return;
      closed = true;
      await sandbox.stop();
    },
  };
}

function fromEngineEvent(event: SandboxEvent): ToolCallEvent {
  if (event.type === 'error') {
    return { type: 'error', sequence: event.sequence, error: toToolCallError(event.error), attempt: event.attempt, willRetry: event.willRetry };
  }
  return event as ToolCallEvent;
}

function toToolCallError(error: unknown): ToolCallError {
  if (error instanceof ToolCallError) return error;
  const engineError = error as Partial<EngineError> | undefined;
  if (engineError && typeof engineError.code === 'number' && typeof engineError.message === 'string') {
    return new ToolCallError({
      grpcCode: engineError.code,
      message: engineError.message,
      reason: engineError.reason,
      fieldViolations: engineError.fieldViolations,
      retryAfterMs: engineError.retryAfterMs,
      metadata: engineError.metadata,
    });
  }
  return new ToolCallError({ grpcCode: 13, message: error instanceof Error ? error.message : String(error) });
}
