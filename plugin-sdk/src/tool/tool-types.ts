// The public shapes a tool author writes and receives. Kept free of any
// generated protobuf type so the published .d.ts files stand on their own.

/** A JSON Schema (2020-12) document, as a plain object. */
export type JsonSchema = { [key: string]: unknown };

/** Any value that survives JSON.stringify/JSON.parse unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** MCP-style hints: what calling the tool does to the world. */
export interface ToolAnnotations {
  /** Reads only; calling it changes nothing. */
  readOnly?: boolean;
  /** May delete or overwrite things; agents ask a human before calling it. */
  destructive?: boolean;
  /** Calling it twice with the same input has the effect of calling it once; required for retries. */
  idempotent?: boolean;
  /** Talks to the open world (the network), not only to its input. */
  openWorld?: boolean;
}

/** What the tool asks for. An operator must grant it before the tool runs. */
export interface ToolPermissions {
  /** Host names `ctx.fetch` may reach; "*.example.com" matches subdomains. */
  network?: string[];
  /** Names of operator-configured secrets `ctx.secrets.get` may read. */
  secrets?: string[];
}

/** Resource limits for one attempt of one call. The sandbox enforces them. */
export interface ToolLimits {
  /** Isolate heap limit in MiB (default 64). */
  memoryMb?: number;
  /** Wall-clock limit in milliseconds (default 10000); the caller's deadline may cut it shorter. */
  timeoutMs?: number;
  /** Isolate CPU time in milliseconds (default: same as timeoutMs). */
  cpuTimeMs?: number;
  /** Largest output, in bytes of JSON (default 1 MiB). */
  maxOutputBytes?: number;
  /** Progress, log and partial events one call may emit (default 1000). */
  maxEvents?: number;
}

/** Retries apply only to tools annotated `idempotent: true`. */
export interface ToolRetryPolicy {
  /** Total attempts including the first; 1 means no retry. */
  maxAttempts: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  backoffMultiplier?: number;
}

/**
 * Opt-in: let a warm context serve several calls, so globals the tool sets
 * (a cache, a parsed table) persist between them. Only for tools whose result
 * depends on their input alone (pure or read-only). A kept context serves
 * only calls of the same tool version, tenant and effective grant (secret
 * values included); it is discarded after any failed call, after a call that
 * left timers or requests pending, after `maxCalls` calls, after `maxIdleMs`
 * idle, and when its heap passes half its limit. Absent: a fresh context for
 * every call (the default).
 */
export interface ToolContextReuse {
  /** Calls one context serves at most, 0 to 1000; 0 or 1 means a fresh context for every call. */
  maxCalls: number;
  /** A context idle longer than this is discarded, 0 to 300000 (default 10000; 0 also means 10000). */
  maxIdleMs?: number;
}

/** A secret's value is redacted wherever it would leave the sandbox (logs, progress, errors); returning it fails the call. */
export interface ToolSecrets {
  /** The secret's value; throws an error with `code: 'PERMISSION_DENIED'` for a secret the call was not granted. */
  get(name: string): string;
}

/** Errors the sandbox throws at a tool carry one of these codes (and no host stack). */
// FAILED_PRECONDITION: a `ctx` kept (with contextReuse) from a call that has ended.
export type ToolErrorCode = 'PERMISSION_DENIED' | 'INVALID_ARGUMENT' | 'RESOURCE_EXHAUSTED' | 'UNAVAILABLE' | 'DEADLINE_EXCEEDED' | 'CANCELLED' | 'FAILED_PRECONDITION';

/** Cancellation inside the sandbox: a small AbortSignal look-alike (the isolate has no DOM events). */
export interface ToolAbortSignal {
  readonly aborted: boolean;
  readonly reason?: string;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
  /** Throws an error with `code: 'CANCELLED'` (or DEADLINE_EXCEEDED) once aborted. */
  throwIfAborted(): void;
}

export type ToolLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What the fetch inside the sandbox accepts (a subset of the WHATWG fetch options). */
export interface ToolFetchInit {
  method?: string;
  headers?: Record<string, string>;
  /** A string body; send JSON with JSON.stringify and a content-type header. */
  body?: string;
}

/** The response `ctx.fetch` resolves to. The body is read by the host, up to a size limit. */
export interface ToolFetchResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  readonly headers: { get(name: string): string | null; entries(): Iterable<[string, string]> };
  text(): Promise<string>;
  json(): Promise<any>;
}

/** The second argument of `execute`: everything a tool may do besides compute. */
export interface ToolContext {
  /**
   * fetch() limited to the hosts the tool was granted. Private and loopback
   * addresses are refused after DNS resolution and on every redirect.
   */
  fetch(url: string, init?: ToolFetchInit): Promise<ToolFetchResponse>;
  secrets: ToolSecrets;
  /** Reports progress to the caller: fraction in 0..1 (or negative when unknown) and a short message. */
  progress(fraction: number, message?: string): void;
  /** Sends a log line to the caller's stream (secrets redacted). */
  log(level: ToolLogLevel, message: string): void;
  /** Streams a partial result (e.g. rows so far) before the final output. */
  partial(data: JsonValue): void;
  /** Aborted when the caller cancels or the deadline passes: stop work and return or throw. */
  signal: ToolAbortSignal;
  /** Epoch milliseconds after which the call is killed. */
  deadline: number;
  /** The caller's id for this call (e.g. the model's tool call id). */
  callId: string;
}
