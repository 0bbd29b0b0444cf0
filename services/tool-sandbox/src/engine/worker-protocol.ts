/**
 * Messages between the service (parent) and a tool worker process, sent over
 * the child's IPC channel as JSON. The worker holds isolates and nothing
 * else: policy (grants, fetch checks, secrets, redaction, schemas) stays in
 * the parent, which treats everything a worker says as untrusted strings.
 */

/** What a worker needs to know about one tool version to run it. */
export interface ToolVersionSource {
  /** `name@version#sha256`: unique for a version's bytes. */
  key: string;
  source: string;
  memoryMb: number;
}

export interface CallLimits {
  /** Wall clock for the whole attempt, from when the worker receives it. */
  timeoutMs: number;
  cpuTimeMs: number;
  maxOutputBytes: number;
  maxEvents: number;
  maxBridgeArgChars: number;
  maxFetchRequestChars: number;
  maxTimers: number;
}

export interface InvokeMessage {
  t: 'invoke';
  id: number;
  key: string;
  /** Sent when the worker may not have this version yet. */
  version?: ToolVersionSource;
  inputJson: string;
  callId: string;
  attempt: number;
  deadline: number;
  limits: CallLimits;
  /** Values of the secrets this call may read. */
  secrets: Record<string, string>;
  /** The manifest opted in to context reuse: the call may run in a context kept for the same `key`. */
  reuse?: ContextReuseRequest;
}

/**
 * `key` names what a kept context may be reused for: the parent derives it
 * from the tool version, tenant and effective grant (secret values
 * included), so a context never crosses any of them.
 */
export interface ContextReuseRequest {
  key: string;
  maxCalls: number;
  maxIdleMs: number;
}

/** Compile, link and evaluate a version once, to refuse a broken bundle at registration. */
export interface PrepareMessage {
  t: 'prepare';
  id: number;
  version: ToolVersionSource;
  timeoutMs: number;
}

export interface ReplyMessage {
  t: 'reply';
  id: number;
  requestId: number;
  json: string;
}

export interface AbortMessage {
  t: 'abort';
  id: number;
  reason: string;
}

export interface EvictMessage {
  t: 'evict';
  keys: string[];
}

export type ParentMessage = InvokeMessage | PrepareMessage | ReplyMessage | AbortMessage | EvictMessage;

export interface ReadyMessage {
  t: 'ready';
  pid: number;
}

/** A tool's event (log/progress/partial) or a request for the host (fetch). */
export interface BridgeMessage {
  t: 'bridge';
  id: number;
  op: string;
  requestId: number;
  json: string;
}

/** Plain data: no stacks, bounded sizes. */
export interface WorkerFailure {
  /** gRPC code name: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INVALID_ARGUMENT... */
  code: string;
  /** Stable reason, e.g. TOOL_ERROR, MEMORY_LIMIT, CPU_TIME_LIMIT. */
  reason: string;
  message: string;
  /** The error's name as the tool threw it. */
  name?: string;
}

export interface DoneMessage {
  t: 'done';
  id: number;
  ok: boolean;
  outputJson?: string;
  failure?: WorkerFailure;
  cpuMs: number;
  /** The isolate hit its heap limit: the worker asks to be replaced once idle. */
  retire?: boolean;
}

export type WorkerMessage = ReadyMessage | BridgeMessage | DoneMessage;
