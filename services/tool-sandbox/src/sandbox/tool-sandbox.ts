import { createHash, randomUUID } from 'node:crypto';
import { asElixirError, ElixirError, errors, GrpcCode, type FieldViolation, type Logger } from '@elixirchain/runtime';
import type { Tool, ToolManifest } from '@elixirchain/proto/sandbox';
import { DEFAULT_OPERATOR_LIMITS, defaultPoolSettings, type OperatorLimits, type PoolSettings } from '../config/operator-limits.js';
import { REALM_LIMITS } from '../engine/tool-realm.js';
import { WorkerSupervisor, type WorkerInfo } from '../engine/worker-supervisor.js';
import type { PoolUtilisation } from '../metrics/sandbox-pool-metrics.js';
import type { CallLimits, ContextReuseRequest, DoneMessage, WorkerFailure } from '../engine/worker-protocol.js';
import { SchemaCompiler } from '../manifest/schema-compiler.js';
import { FetchGuard, type HostResolver } from '../network/fetch-guard.js';
import { effectiveGrant, normalizePermissions, type PermissionSet } from '../permissions/permission-set.js';
import { InMemoryToolStore } from '../registry/in-memory-tool-store.js';
import { ToolCatalog, type ToolVersionRecord } from '../registry/tool-catalog.js';
import type { ToolStore } from '../registry/tool-store.js';
import { SecretRedactor } from '../secrets/secret-redactor.js';
import { SecretStore } from '../secrets/secret-store.js';
import { EventChannel } from './event-channel.js';
import { ToolContextBridge, type BridgeEvent } from './tool-context-bridge.js';

/**
 * The tenant that holds tools an operator shared with every tenant (the runtime's
 * SHARED_TENANT; spelled here because the SDK bundles this file with the runtime's errors only).
 */
export const SHARED_TENANT = '_shared';

export type SandboxEvent =
  | { sequence: number; type: 'started'; callId: string; toolVersion: string; attempt: number }
  | ({ sequence: number } & BridgeEvent)
  | { sequence: number; type: 'result'; output: unknown; toolVersion: string; attempts: number; durationMs: number }
  | { sequence: number; type: 'error'; error: ElixirError; attempt: number; willRetry: boolean };

/** An event before the stream numbers it. */
export type SandboxEventBody = SandboxEvent extends infer E ? (E extends unknown ? Omit<E, 'sequence'> : never) : never;

export interface InvokeRequest {
  name: string;
  /** Exact version or semver range; empty: newest active. */
  version?: string;
  input?: Record<string, unknown>;
  callId?: string;
  /** Narrows the tool's grant for this call. */
  grants?: { networkHosts?: string[]; secrets?: string[] };
  timeoutMs?: number;
  /** Whose tools: the tenant's own, then the operator's shared ones (default "default"). */
  tenant?: string;
}

export interface InvokeOptions {
  signal?: AbortSignal;
  /** Epoch ms: the caller's deadline (gRPC), caps every attempt. */
  deadline?: number;
}

export interface SandboxOptions {
  /** Where tools and grants are kept (default: in this process). The sandbox closes it on stop. */
  store?: ToolStore;
  secrets?: SecretStore | Record<string, string>;
  limits?: Partial<OperatorLimits>;
  pool?: Partial<PoolSettings>;
  /** Whether RegisterTool's grant_permissions flag is honoured (default true). */
  allowGrantOnRegister?: boolean;
  /** Tests only: DNS resolution for ctx.fetch. */
  resolver?: HostResolver;
  /** Tests only: private addresses ctx.fetch may reach (e.g. ["127.0.0.1"]). */
  allowedPrivateAddresses?: string[];
  logger?: Logger;
  /** How long start() waits for an unavailable registry store (default 30 s). */
  storeLoadTimeoutMs?: number;
  /** How often a shared store (the memory service) is re-read for other replicas' writes (default 5 s; 0 disables). */
  refreshIntervalMs?: number;
}

/** Reasons after which another attempt of an idempotent tool may succeed. */
const RETRYABLE = new Set(['WORKER_CRASHED', 'TOOL_ERROR', 'TIMEOUT', 'SANDBOX_BUSY', 'VERSION_NOT_LOADED']);
/** Events waiting for a slow client: past the first, progress is coalesced; past the second, the call fails. */
const BACKLOG_COALESCE_BYTES = 1024 * 1024;
const BACKLOG_MAX_BYTES = 16 * 1024 * 1024;

const CODE_BY_NAME: Record<string, GrpcCode> = {
  CANCELLED: GrpcCode.CANCELLED,
  INVALID_ARGUMENT: GrpcCode.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: GrpcCode.DEADLINE_EXCEEDED,
  PERMISSION_DENIED: GrpcCode.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: GrpcCode.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: GrpcCode.FAILED_PRECONDITION,
  UNAVAILABLE: GrpcCode.UNAVAILABLE,
  INTERNAL: GrpcCode.INTERNAL,
};

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

// Reasons for aborts that every call makes once it is over (the consumer leaving at the
// result, an attempt releasing its bridge and listeners): made once, since a fresh Error or
// DOMException per call captures a stack nobody reads, ~5% of the service's CPU per call.
const CONSUMER_LEFT = new Error('the consumer stopped reading');
const ATTEMPT_ENDED = new Error('the attempt has ended');

/**
 * The tool sandbox as a library: registry, grants, worker pool and the
 * invoke pipeline (input schema → isolate → output checks, retries,
 * events). The gRPC service and the plugin SDK's test harness both use it,
 * so tools run the same way in tests as in production.
 */
export class ToolSandbox {
  /** Tools of tenant "default" (local developer mode, embedded use, the SDK's harness). */
  readonly catalog: ToolCatalog;
  /** Tools an operator published for every tenant. */
  readonly sharedCatalog: ToolCatalog;
  /** Other tenants' catalogs, loaded on first use. */
  private readonly tenantCatalogs = new Map<string, { catalog: ToolCatalog; loaded: Promise<unknown> }>();
  readonly limits: OperatorLimits;
  private readonly supervisor: WorkerSupervisor;
  private readonly compiler = new SchemaCompiler();
  private readonly fetchGuard: FetchGuard;
  private readonly secrets: SecretStore;
  private readonly serviceRedactor: SecretRedactor;
  private readonly allowGrantOnRegister: boolean;
  private readonly logger: Logger | undefined;
  private state: 'new' | 'running' | 'stopped' = 'new';
  private readonly storeLoadTimeoutMs: number;
  private readonly store: ToolStore;
  private readonly refreshIntervalMs: number;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly missRefreshes = new Map<string, number>();

  constructor(options: SandboxOptions = {}) {
    this.limits = { ...DEFAULT_OPERATOR_LIMITS, ...options.limits };
    const pool = { ...defaultPoolSettings(), ...options.pool };
    this.logger = options.logger;
    this.secrets = options.secrets instanceof SecretStore ? options.secrets : new SecretStore(options.secrets ?? {});
    this.serviceRedactor = new SecretRedactor(this.secrets.all());
    this.allowGrantOnRegister = options.allowGrantOnRegister ?? true;
    this.storeLoadTimeoutMs = options.storeLoadTimeoutMs ?? 30_000;
    this.refreshIntervalMs = options.refreshIntervalMs ?? 5000;
    this.supervisor = new WorkerSupervisor({
      workers: pool.workers,
      maxCallsPerWorker: pool.maxCallsPerWorker,
      maxQueue: pool.maxQueue,
      workerHeapMb: pool.workerHeapMb,
      maxRestarts: pool.maxRestarts,
      withinMs: pool.restartWithinMs,
      onWorkerExit: (info) => this.logger?.warn({ worker: info.workerId, workerPid: info.pid, reason: info.reason }, 'tool worker exited; replacing it'),
    });
    this.fetchGuard = new FetchGuard({
      resolver: options.resolver,
      allowedPrivate: options.allowedPrivateAddresses,
      maxResponseBytes: this.limits.maxFetchResponseBytes,
      maxRedirects: this.limits.maxRedirects,
      maxRequestBodyBytes: 1024 * 1024,
    });
    this.store = options.store ?? new InMemoryToolStore();
    this.catalog = this.newCatalog(this.store, false);
    this.sharedCatalog = this.newCatalog(this.store.forTenant?.(SHARED_TENANT) ?? new InMemoryToolStore(), true);
  }

  private newCatalog(store: ToolStore, shared: boolean): ToolCatalog {
    return new ToolCatalog(
      store,
      this.limits,
      this.compiler,
      (record) => this.prepare(record),
      (keys) => {
        for (const worker of this.supervisor.all()) worker.evict(keys);
      },
      shared,
    );
  }

  /** The catalog of one tenant's private tools (loaded from the store on first use). */
  async catalogFor(tenant: string | undefined): Promise<ToolCatalog> {
    if (!tenant || tenant === 'default' || tenant === '*') return this.catalog;
    if (tenant === SHARED_TENANT) return this.sharedCatalog;
    let entry = this.tenantCatalogs.get(tenant);
    if (!entry) {
      const catalog = this.newCatalog(this.store.forTenant?.(tenant) ?? this.store, false);
      entry = { catalog, loaded: catalog.load() };
      this.tenantCatalogs.set(tenant, entry);
      entry.loaded.catch(() => this.tenantCatalogs.delete(tenant));
    }
    await entry.loaded;
    return entry.catalog;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    await this.supervisor.start();
    const { skipped } = await this.loadCatalog();
    if (this.store.shared && this.refreshIntervalMs > 0) {
      this.refreshTimer = setInterval(() => void this.refresh(), this.refreshIntervalMs);
      this.refreshTimer.unref();
    }
    if (skipped.length > 0) this.logger?.warn({ skipped }, 'stored tool versions no longer valid under the operator limits; not served');
  }

  /** The store may be a peer service that is still starting: wait for it a while. */
  private async loadCatalog(): Promise<{ skipped: string[] }> {
    const giveUpAt = Date.now() + this.storeLoadTimeoutMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      try {
        const [own] = await Promise.all([this.catalog.load(), this.sharedCatalog.load()]);
        return own;
      } catch (error) {
        const e = asElixirError(error);
        if (e.code !== GrpcCode.UNAVAILABLE && e.code !== GrpcCode.DEADLINE_EXCEEDED) throw e;
        if (Date.now() + delay > giveUpAt) throw e;
        this.logger?.warn({ reason: e.reason }, 'tool registry store unavailable; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    clearInterval(this.refreshTimer);
    await this.supervisor.stop();
    this.store.close?.();
  }

  /** Re-reads a shared registry store; failures are logged, the catalog keeps what it has. Concurrent callers share one read. */
  refresh(): Promise<void> {
    if (!this.store.shared) return Promise.resolve();
    this.refreshing ??= (async () => {
      try {
        await Promise.all([this.catalog, this.sharedCatalog, ...[...this.tenantCatalogs.values()].map((t) => t.catalog)].map((c) => c.refresh()));
      } catch (error) {
        this.logger?.warn({ err: asElixirError(error).message }, 'could not refresh the tool registry from its store');
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /**
   * The version a call gets. On a miss, a shared store is re-read (another
   * replica may have just registered it), at most once a second per name.
   */
  private async resolveForCall(name: string, range: string, tenant?: string): Promise<{ record: ToolVersionRecord; catalog: ToolCatalog }> {
    const own = await this.catalogFor(tenant);
    // The tenant's own tool of that name wins over a shared one.
    const resolve = () => {
      if (own.find(name, '') || !this.sharedCatalog.find(name, '')) return { record: own.resolveActive(name, range), catalog: own };
      return { record: this.sharedCatalog.resolveActive(name, range), catalog: this.sharedCatalog };
    };
    try {
      return resolve();
    } catch (error) {
      const e = asElixirError(error);
      const miss = e.code === GrpcCode.NOT_FOUND || e.code === GrpcCode.FAILED_PRECONDITION;
      const last = this.missRefreshes.get(name) ?? 0;
      if (!miss || !this.store.shared || Date.now() - last < 1000) throw e;
      this.missRefreshes.delete(name);
      this.missRefreshes.set(name, Date.now());
      if (this.missRefreshes.size > 1000) this.missRefreshes.delete(this.missRefreshes.keys().next().value as string);
      await this.refresh();
      return resolve();
    }
  }

  workers(): WorkerInfo[] {
    return this.supervisor.info();
  }

  /** The pool as its gauges see it (NodeStatusService reads it too). */
  poolUtilisation(): PoolUtilisation {
    return this.supervisor.utilisation();
  }

  get workerRestarts(): number {
    return this.supervisor.restarts;
  }

  async register(manifest: ToolManifest | undefined, bundle: Uint8Array, options: { grantPermissions?: boolean; tenant?: string } = {}): Promise<Tool> {
    const grantPermissions = options.grantPermissions === true;
    if (grantPermissions && !this.allowGrantOnRegister) {
      throw errors.permissionDenied('GRANT_ON_REGISTER_DISABLED', 'this sandbox does not grant permissions at registration; use GrantTool');
    }
    const tool = await (await this.catalogFor(options.tenant)).register(manifest, bundle, { grantPermissions });
    this.logger?.info({ tool: manifest?.name, version: manifest?.version, state: tool.state }, 'tool registered');
    return tool;
  }

  async grant(toolName: string, permissions: { networkHosts?: string[]; secrets?: string[] }, tenant?: string) {
    return (await this.catalogFor(tenant)).grant(toolName, normalizePermissions(permissions));
  }

  /** Loads a bundle once in a worker so a broken one is refused at registration. */
  private async prepare(record: ToolVersionRecord): Promise<void> {
    const worker = await this.supervisor.acquire();
    let done: DoneMessage;
    try {
      done = await worker.prepare({ key: record.key, source: record.source, memoryMb: record.resolved.limits.memoryMb }, Math.min(5000, Math.max(1000, record.resolved.limits.timeoutMs)));
    } finally {
      this.supervisor.settle(worker);
    }
    if (done.ok) return;
    const f = done.failure!;
    if (f.reason === 'WORKER_CRASHED') {
      throw errors.invalidArgument('bundle', 'loading the bundle crashed its worker process', 'BUNDLE_LOAD_FAILED');
    }
    throw errors.invalidArgument('bundle', f.message, f.reason);
  }

  /** Runs a tool; events stream until a result or error event ends the call. */
  invoke(request: InvokeRequest, options: InvokeOptions = {}): AsyncIterable<SandboxEvent> {
    const controller = new AbortController();
    const channel = new EventChannel<SandboxEvent>(() => controller.abort(CONSUMER_LEFT));
    if (options.signal) {
      if (options.signal.aborted) controller.abort(options.signal.reason);
      else options.signal.addEventListener('abort', () => controller.abort(options.signal!.reason), { once: true });
    }
    let sequence = 0;
    let backlogged = false;
    const push = (event: SandboxEventBody) => {
      if (event.type === 'progress' || event.type === 'log' || event.type === 'partial') {
        if (backlogged) return;
        const size = 64 + (event.type === 'partial' ? JSON.stringify(event.data).length : event.message.length);
        // A reader that lags gets the latest progress, not every step; logs and partials are never dropped.
        const last = channel.lastWaiting;
        if (event.type === 'progress' && last?.type === 'progress' && channel.backlogBytes > BACKLOG_COALESCE_BYTES) {
          channel.replaceLast({ ...event, sequence: last.sequence }, size);
          return;
        }
        if (channel.backlogBytes + size > BACKLOG_MAX_BYTES) {
          backlogged = true;
          controller.abort(new Error('stream backlog'));
          return;
        }
        channel.push({ ...event, sequence: ++sequence } as SandboxEvent, size);
        return;
      }
      if (event.type === 'error' && backlogged && !event.willRetry) {
        const error = errors.resourceExhausted('STREAM_BACKLOG', `the client did not read the stream: more than ${BACKLOG_MAX_BYTES} bytes of events were waiting`, 1000);
        channel.push({ ...event, error, sequence: ++sequence });
        return;
      }
      channel.push({ ...event, sequence: ++sequence } as SandboxEvent);
    };
    this.run(request, options, controller.signal, push)
      .catch((error: unknown) => push({ type: 'error', error: this.redactError(asElixirError(error)), attempt: 0, willRetry: false }))
      .finally(() => channel.close());
    return channel;
  }

  /** Convenience: runs a call to its end and returns the output or throws its error. */
  async call(request: InvokeRequest, options: InvokeOptions = {}): Promise<{ output: unknown; events: SandboxEvent[] }> {
    const events: SandboxEvent[] = [];
    for await (const event of this.invoke(request, options)) {
      events.push(event);
      if (event.type === 'result') return { output: event.output, events };
      if (event.type === 'error' && !event.willRetry) throw event.error;
    }
    throw errors.internal('NO_RESULT', 'the call ended without a result');
  }

  private async run(request: InvokeRequest, options: InvokeOptions, signal: AbortSignal, push: (e: SandboxEventBody) => void): Promise<void> {
    if (this.state !== 'running') throw errors.unavailable('SANDBOX_STOPPED', 'the tool sandbox is not running', 1000);
    const started = performance.now();
    const callId = request.callId || randomUUID();
    if (!request.name) throw errors.invalidArgument('name', 'is required');
    if (callId.length > 256) throw errors.invalidArgument('call_id', 'at most 256 characters');
    const input = request.input ?? {};
    const inputJson = JSON.stringify(input);
    if (Buffer.byteLength(inputJson) > this.limits.maxInputBytes) {
      throw errors.invalidArgument('input', `is larger than the operator's maximum of ${this.limits.maxInputBytes} bytes`, 'INPUT_TOO_LARGE');
    }
    const { record, catalog } = await this.resolveForCall(request.name, request.version ?? '', request.tenant);
    const toolVersion = `${record.name}@${record.version}`;
    const schemas = record.schemas(this.compiler);
    const inputViolations = schemas.input?.(input) ?? [];
    if (inputViolations.length > 0) throw this.schemaError(inputViolations, 'input');

    const narrowing = request.grants ? normalizePermissions(request.grants) : undefined;
    const grant = effectiveGrant(record.resolved.permissions, catalog.grantOf(record.name), narrowing);
    const secretValues = this.secrets.pick(grant.secrets);
    const redactor = new SecretRedactor(secretValues);
    const { limits, retry, idempotent, contextReuse } = record.resolved;
    // Opt-in context reuse: a kept context serves only calls with this same key, which binds the
    // version's bytes, the tenant, and the effective grant including the secret values it was given.
    const reuse: ContextReuseRequest | undefined = contextReuse && {
      key: createHash('sha256').update(JSON.stringify([request.tenant || 'default', record.key, grant.hostLists, grant.secrets, secretValues])).digest('hex'),
      maxCalls: contextReuse.maxCalls,
      maxIdleMs: contextReuse.maxIdleMs,
    };
    const maxAttempts = idempotent ? Math.max(1, retry.maxAttempts) : 1;
    const callDeadline = Math.min(options.deadline ?? Infinity, request.timeoutMs && request.timeoutMs > 0 ? Date.now() + request.timeoutMs * maxAttempts : Infinity);

    let backoff = retry.initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw errors.cancelled('the call was cancelled');
      const remaining = callDeadline - Date.now();
      if (remaining <= 0) throw errors.deadlineExceeded(`the call's deadline passed before attempt ${attempt} of ${toolVersion}`, 'TIMEOUT');
      const timeoutMs = Math.max(1, Math.floor(Math.min(limits.timeoutMs, request.timeoutMs && request.timeoutMs > 0 ? request.timeoutMs : Infinity, remaining)));
      push({ type: 'started', callId, toolVersion, attempt });
      let error: ElixirError;
      let retryable: boolean;
      try {
        const output = await this.attempt(record, { inputJson, callId, attempt, timeoutMs, secretValues, grant, redactor, signal, push, reuse });
        push({ type: 'result', output, toolVersion, attempts: attempt, durationMs: performance.now() - started });
        this.logger?.debug({ tool: toolVersion, callId, attempts: attempt }, 'tool call succeeded');
        return;
      } catch (thrown) {
        error = this.redactError(asElixirError(thrown), redactor);
        retryable = RETRYABLE.has(error.reason) && !signal.aborted;
      }
      const willRetry = retryable && attempt < maxAttempts && callDeadline - Date.now() > backoff;
      push({ type: 'error', error, attempt, willRetry });
      this.logger?.info({ tool: toolVersion, callId, attempt, code: error.codeName, reason: error.reason, message: this.serviceRedactor.redact(error.message) }, 'tool call attempt failed');
      if (!willRetry) return;
      await sleep(backoff, signal);
      backoff = Math.min(retry.maxBackoffMs, backoff * retry.multiplier);
    }
  }

  private async attempt(
    record: ToolVersionRecord,
    a: {
      inputJson: string;
      callId: string;
      attempt: number;
      timeoutMs: number;
      secretValues: Record<string, string>;
      grant: ReturnType<typeof effectiveGrant>;
      redactor: SecretRedactor;
      signal: AbortSignal;
      push: (e: SandboxEventBody) => void;
      reuse?: ContextReuseRequest;
    },
  ): Promise<unknown> {
    const { limits } = record.resolved;
    const attemptAbort = new AbortController();
    const onCallAbort = () => attemptAbort.abort();
    a.signal.addEventListener('abort', onCallAbort, { once: true });
    const deadlineTimer = setTimeout(() => attemptAbort.abort(), a.timeoutMs + 100);
    const callLimits: CallLimits = {
      timeoutMs: a.timeoutMs,
      cpuTimeMs: Math.min(limits.cpuTimeMs, a.timeoutMs),
      maxOutputBytes: limits.maxOutputBytes,
      maxEvents: limits.maxEvents,
      ...REALM_LIMITS,
    };
    const bridge = new ToolContextBridge({
      grant: a.grant,
      fetchGuard: this.fetchGuard,
      redactor: a.redactor,
      signal: attemptAbort.signal,
      emit: (event) => a.push(event),
      onDenied: (what) => this.logger?.info({ tool: record.key.split('#')[0], callId: a.callId }, this.serviceRedactor.redact(what)),
    });
    let done: DoneMessage;
    try {
      let worker;
      try {
        worker = await this.supervisor.acquire(attemptAbort.signal);
      } catch (error) {
        if (!a.signal.aborted && attemptAbort.signal.aborted) {
          throw errors.deadlineExceeded(`no tool worker became free within ${a.timeoutMs} ms`, 'TIMEOUT');
        }
        throw error;
      }
      const running = worker.invoke(
        {
          version: { key: record.key, source: record.source, memoryMb: limits.memoryMb },
          inputJson: a.inputJson,
          callId: a.callId,
          attempt: a.attempt,
          deadline: Date.now() + a.timeoutMs,
          limits: callLimits,
          secrets: a.secretValues,
          reuse: a.reuse,
        },
        {
          onEvent: (op, json) => bridge.onEvent(op, json),
          onRequest: (op, requestId, json) => bridge.onRequest(op, json, (reply) => running.reply(requestId, reply)),
        },
      );
      this.supervisor.settle(worker);
      const onAbort = () => running.abort('the call was cancelled');
      a.signal.addEventListener('abort', onAbort, { once: true });
      try {
        done = await running.done;
      } finally {
        a.signal.removeEventListener('abort', onAbort);
      }
    } finally {
      clearTimeout(deadlineTimer);
      attemptAbort.abort(ATTEMPT_ENDED);
      a.signal.removeEventListener('abort', onCallAbort);
    }
    if (a.signal.aborted) throw errors.cancelled('the call was cancelled');
    if (!done.ok) throw this.failureError(done.failure!, record);
    return this.checkOutput(record, done.outputJson ?? 'null', a.redactor);
  }

  private checkOutput(record: ToolVersionRecord, outputJson: string, redactor: SecretRedactor): unknown {
    const toolVersion = `${record.name}@${record.version}`;
    if (Buffer.byteLength(outputJson) > record.resolved.limits.maxOutputBytes) {
      throw errors.resourceExhausted('OUTPUT_TOO_LARGE', `the output of ${toolVersion} is larger than ${record.resolved.limits.maxOutputBytes} bytes`, 0);
    }
    let output: unknown;
    try {
      output = JSON.parse(outputJson);
    } catch {
      throw errors.internal('INVALID_OUTPUT', `${toolVersion} returned output that is not JSON`);
    }
    const leaked = redactor.findIn(output);
    if (leaked) {
      throw errors.permissionDenied('SECRET_IN_OUTPUT', `the output of ${toolVersion} contains the value of the secret ${leaked}`, { secret: leaked, tool: toolVersion });
    }
    const violations = record.schemas(this.compiler).output?.(output) ?? [];
    if (violations.length > 0) {
      const first = violations[0]!;
      throw new ElixirError(GrpcCode.INTERNAL, 'OUTPUT_SCHEMA_VIOLATION', `${toolVersion} returned output that violates its output schema at ${first.field}: ${first.description}`, {
        metadata: { tool: record.name, version: record.version, pointer: first.field },
      });
    }
    return output;
  }

  private failureError(failure: WorkerFailure, record: ToolVersionRecord): ElixirError {
    const code = CODE_BY_NAME[failure.code] ?? GrpcCode.INTERNAL;
    const metadata: Record<string, string> = { tool: record.name, version: record.version };
    if (failure.name) metadata.errorName = failure.name;
    if (code === GrpcCode.UNAVAILABLE) return new ElixirError(code, failure.reason, failure.message, { metadata, retryAfterMs: 100 });
    if (code === GrpcCode.RESOURCE_EXHAUSTED && failure.reason === 'SANDBOX_BUSY') return new ElixirError(code, failure.reason, failure.message, { metadata, retryAfterMs: 250 });
    return new ElixirError(code, failure.reason, failure.message, { metadata });
  }

  private schemaError(violations: FieldViolation[], what: 'input'): ElixirError {
    const first = violations[0]!;
    return new ElixirError(GrpcCode.INVALID_ARGUMENT, 'INPUT_SCHEMA_VIOLATION', `${what}${first.field === '/' ? '' : first.field}: ${first.description}`, {
      fieldViolations: violations,
      metadata: { pointer: first.field },
    });
  }

  /** Secret values never leave in an error, whatever produced its message. */
  private redactError(error: ElixirError, callRedactor?: SecretRedactor): ElixirError {
    let message = this.serviceRedactor.redact(error.message);
    if (callRedactor) message = callRedactor.redact(message);
    if (message === error.message) return error;
    return new ElixirError(error.code, error.reason, message, { metadata: error.metadata, fieldViolations: error.fieldViolations, retryAfterMs: error.retryAfterMs });
  }
}

/** The in-process engine, started: what the plugin SDK's test harness runs tools in. */
export async function createSandbox(options: SandboxOptions = {}): Promise<ToolSandbox> {
  const sandbox = new ToolSandbox(options);
  await sandbox.start();
  return sandbox;
}

export type { PermissionSet };
