import type { Status } from '@elixirchain/proto/google/rpc/status';

/** What agent-host needs to know about a tool to offer it to a model and decide on approval. */
export interface ToolInfo {
  name: string;
  version: string;
  description: string;
  inputSchema: Record<string, unknown>;
  destructive: boolean;
  readOnly: boolean;
  /** Annotated idempotent: a call interrupted by a restart of tool-sandbox may run again. */
  idempotent?: boolean;
  permissions: { networkHosts: string[]; secrets: string[] };
}

export interface ToolInvocation {
  name: string;
  /** Exact version or semver range; empty means newest. */
  version: string;
  input: Record<string, unknown>;
  callId: string;
  /** The agent's permissions: the call may use at most these. */
  grants?: { networkHosts: string[]; secrets: string[] };
  timeoutMs?: number;
}

export type ToolOutcome =
  | { ok: true; output: unknown; toolVersion: string }
  | { ok: false; status: Status; toolVersion: string };

/** What agent-host needs from tool-sandbox; the gRPC client satisfies it, InProcessToolRunner fakes it. */
export interface ToolRunner {
  /** Throws ElixirError NOT_FOUND for an unknown tool. */
  getTool(name: string, versionRange: string): Promise<ToolInfo>;
  invoke(call: ToolInvocation, signal: AbortSignal, onProgress: (fraction: number, message: string) => void): Promise<ToolOutcome>;
}
