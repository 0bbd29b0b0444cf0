import type { ToolCallEvent, ToolCallResult } from '../client/tool-call-event.js';
import type { ToolManifest } from '../manifest/tool-manifest.js';
import type { ToolPermissions } from '../tool/tool-types.js';

export interface SandboxEngineOptions {
  /** Secret values the operator would configure (name → value). */
  secrets?: Record<string, string>;
  /**
   * Hosts that resolve to a local server for this engine only, e.g.
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

export async function openSandboxEngine(_options: SandboxEngineOptions = {}): Promise<SandboxEngine> {
  throw new Error('the sandbox engine is not available yet');
}
