import { resolve } from 'node:path';
import type { ToolCallEvent, ToolCallResult } from '../client/tool-call-event.js';
import { openSandboxEngine, type SandboxEngine } from '../engine/sandbox-engine.js';
import type { ToolManifest } from '../manifest/tool-manifest.js';
import { buildToolProject } from '../project/tool-project.js';
import type { Tool } from '../tool/define-tool.js';
import type { ToolPermissions } from '../tool/tool-types.js';

export interface TestToolOptions {
  /** The tool project; default: the one `elixirchain-tool test` runs, else the current directory. */
  project?: string;
  /** The tool module; default: `elixirchain-tool test --entry`, package.json "elixirchain.entry", else src/index.ts. */
  entry?: string;
  /**
   * Host names the tool fetches, mapped to local servers for this test only:
   * { 'api.weather.example': `http://127.0.0.1:${port}` }. Each must be a host
   * the tool declares in permissions.network (or matches a "*." pattern).
   */
  hosts?: Record<string, string>;
  /** Secret values for this test (name → value), as an operator would configure them. */
  secrets?: Record<string, string>;
  /**
   * The operator's grant; default: everything the tool declares. Pass a
   * narrower one to test how the tool behaves without a permission.
   */
  grant?: ToolPermissions;
}

export interface TestInvokeOptions {
  callId?: string;
  /** Per-call wall-clock limit, at most the tool's timeoutMs. */
  timeoutMs?: number;
  /** Narrows this call's permissions, as an agent without some of them would. */
  grants?: ToolPermissions;
  /** Abort to cancel the call, as a caller cancelling the stream would. */
  signal?: AbortSignal;
  onEvent?: (event: ToolCallEvent) => void;
}

type InputOf<T> = T extends Tool ? NonNullable<T['$callInput']> : Record<string, unknown>;
type OutputOf<T> = T extends Tool ? NonNullable<T['$output']> : unknown;

/** A tool loaded into the sandbox engine for a test. */
export interface ToolUnderTest<T = Tool> {
  readonly manifest: ToolManifest;
  /** Calls the tool; rejects with a ToolCallError carrying the same code and reason as production. */
  invoke(input: InputOf<T>, options?: TestInvokeOptions): Promise<ToolCallResult<OutputOf<T>>>;
  close(): Promise<void>;
}

/**
 * Builds the tool exactly as `elixirchain-tool build` does and loads the
 * bundle into the production sandbox engine, granted what it declares.
 */
export async function testTool<T = Tool>(options: TestToolOptions = {}): Promise<ToolUnderTest<T>> {
  const project = resolve(options.project ?? process.env.ELIXIRCHAIN_TOOL_PROJECT ?? process.cwd());
  const built = await buildToolProject(project, { entry: options.entry ?? process.env.ELIXIRCHAIN_TOOL_ENTRY, outDir: false });
  const manifest = built.manifest;
  checkTestHosts(manifest, options.hosts ?? {});
  const engine: SandboxEngine = await openSandboxEngine({ secrets: options.secrets, testHosts: options.hosts });
  try {
    await engine.register(manifest, built.code, { grant: options.grant });
  } catch (error) {
    await engine.close();
    throw error;
  }
  return {
    manifest,
    async invoke(input, invokeOptions = {}) {
      return (await engine.invoke(manifest.name, input as Record<string, unknown>, { ...invokeOptions, version: manifest.version })) as ToolCallResult<OutputOf<T>>;
    },
    close: () => engine.close(),
  };
}

// A test host the tool never declared would make the test pass where
// production refuses the fetch: refuse it here instead.
function checkTestHosts(manifest: ToolManifest, hosts: Record<string, string>): void {
  for (const [host, origin] of Object.entries(hosts)) {
    const declared = manifest.permissions.network.some((pattern) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : pattern === host));
    if (!declared) {
      throw new Error(`test host ${host} is not in the tool's permissions.network (${manifest.permissions.network.join(', ') || 'none'}); declare it in defineTool first`);
    }
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new Error(`test host ${host} maps to ${origin}, which is not a URL like http://127.0.0.1:4100`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`test host ${host} must map to an http(s) origin, got ${origin}`);
  }
}
