/**
 * What the executor needs from the services a chain's leaf steps call. The
 * gRPC implementations talk to tool-sandbox and agent-host; tests may use
 * in-process fakes.
 */
export interface ToolInvocation {
  tool: string;
  /** Semver range or exact version; empty means newest. */
  version: string;
  input: Record<string, unknown>;
  /** Stable per run, step path and attempt, so the sandbox can tell retries apart. */
  callId: string;
  /** What is left of the step's timeout, if it has one. */
  timeoutMs?: number;
  signal: AbortSignal;
  onProgress(fraction: number, message: string): void;
}

export interface ToolDescription {
  name: string;
  version: string;
  idempotent: boolean;
  readOnly: boolean;
  destructive: boolean;
}

export interface ToolStepRunner {
  /** Resolves with the tool's output; rejects with an ElixirError (the tool's status). */
  invoke(call: ToolInvocation): Promise<unknown>;
  /** The tool's annotations, or undefined when no such tool is registered. */
  describe(tool: string, version: string): Promise<ToolDescription | undefined>;
}

export interface AgentInvocation {
  agentId: string;
  threadId: string;
  message: string;
  /** Stable per run, step path and attempt: a retry re-attaches to the same turn. */
  requestId: string;
  signal: AbortSignal;
  onTextDelta(text: string): void;
  /** Called when the turn waits for an approval, and again (false) once it is resolved. */
  onAwaitingApproval?(waiting: boolean, reason: string): void;
}

export interface AgentStepRunner {
  /** Resolves with the reply's text; aborting the signal cancels the turn (CancelTurn). */
  send(call: AgentInvocation): Promise<string>;
  /** false when no such agent exists; undefined when that cannot be told now. */
  exists(agentId: string): Promise<boolean | undefined>;
}
