import type ivm from 'isolated-vm';
import type { IsolatePool, KeptRealm, WarmIsolate } from './isolate-pool.js';
import { ToolRealm, type BridgeTarget } from './tool-realm.js';
import type { DoneMessage, InvokeMessage, WorkerFailure } from './worker-protocol.js';

const EVENT_OPS = new Set(['log', 'progress', 'partial']);
const MAX_HOST_MESSAGE = 4000;
/** Failures after which the isolate is still in a known state and may serve the next call. */
const REUSABLE_AFTER = new Set(['TOOL_ERROR', 'INVALID_TOOL_INPUT', 'TOOL_LIMIT', 'INVALID_OUTPUT', 'OUTPUT_TOO_LARGE', 'PERMISSION_DENIED', 'INVALID_TOOL']);
/** Grace between aborting ctx.signal and disposing the isolate on cancel. */
const ABORT_GRACE_MS = 50;

export interface CallHost {
  /** Forwards a tool event (requestId 0) or a request (fetch) to the parent. */
  forward(op: string, requestId: number, json: string): void;
}

const clip = (s: string) => (s.length > MAX_HOST_MESSAGE ? `${s.slice(0, MAX_HOST_MESSAGE)}…` : s);

function messageOf(error: unknown): string {
  if (error instanceof Error) return clip(String(error.message));
  return clip(typeof error === 'string' ? error : 'unknown error');
}

/**
 * One attempt of one tool call inside a worker: a fresh context in a warm
 * isolate, the bridge's host side, and the watchdog (wall clock and isolate
 * CPU time) that disposes the isolate when a limit is crossed.
 */
export class IsolateCall implements BridgeTarget {
  private failure: WorkerFailure | undefined;
  private retire = false;
  private finished = false;
  private events = 0;
  private control: ivm.Reference<(...args: unknown[]) => unknown> | undefined;
  private readonly requests = new Map<number, NodeJS.Timeout | null>();
  private readonly deadlineAt: number;
  private killed!: () => void;
  private readonly killedPromise = new Promise<void>((resolve) => (this.killed = resolve));

  constructor(
    private readonly message: InvokeMessage,
    private readonly warm: WarmIsolate,
    private readonly pool: IsolatePool,
    private readonly host: CallHost,
    /** A context kept from an earlier call with the same reuse key (the manifest opted in). */
    private readonly kept?: KeptRealm,
  ) {
    this.deadlineAt = performance.now() + message.limits.timeoutMs;
  }

  private remainingMs(): number {
    return Math.max(1, Math.ceil(this.deadlineAt - performance.now()));
  }

  async run(): Promise<DoneMessage> {
    const { isolate } = this.warm;
    const limits = this.message.limits;
    const cpuStart = isolate.cpuTime;
    const cpuUsedMs = () => (isolate.isDisposed ? 0 : Number(isolate.cpuTime - cpuStart) / 1e6);
    const wall = setTimeout(() => this.kill({ code: 'DEADLINE_EXCEEDED', reason: 'TIMEOUT', message: `the tool did not finish within ${limits.timeoutMs} ms` }), limits.timeoutMs);
    // ctx.signal aborts a little before the watchdog, so a tool can still return what it has.
    const warnAt = Math.max(0, limits.timeoutMs - Math.min(100, Math.floor(limits.timeoutMs / 10)));
    const warn = setTimeout(() => {
      this.control?.apply(undefined, ['abort', 'deadline'], { timeout: ABORT_GRACE_MS }).catch(() => undefined);
    }, warnAt);
    const cpu = setInterval(() => {
      if (cpuUsedMs() > limits.cpuTimeMs) this.kill({ code: 'DEADLINE_EXCEEDED', reason: 'CPU_TIME_LIMIT', message: `the tool used more than ${limits.cpuTimeMs} ms of CPU time` });
    }, 10);
    let realm: ToolRealm | undefined;
    let cpuMs: number;
    let outputJson: string | undefined;
    try {
      const work = (async () => {
        realm = this.kept ? this.kept.realm : await this.pool.takeSpare(this.warm);
        if (!realm) {
          try {
            realm = await ToolRealm.create(this.warm, this.pool, this.remainingMs());
          } catch (error) {
            if (!this.failure && !isolate.isDisposed && (error as { phase?: string }).phase === 'load') {
              this.failure = { code: 'INTERNAL', reason: 'TOOL_LOAD_FAILED', message: `the tool failed while loading: ${messageOf(error)}` };
            }
            throw error;
          }
        }
        realm.target = this;
        this.control = realm.control;
        const running = realm.control.apply(undefined, ['run', realm.namespace.derefInto(), this.message.inputJson, this.callJson()], {
          result: { promise: true, copy: true },
          timeout: this.remainingMs(),
        });
        return (await running) as unknown;
      })();
      work.catch(() => undefined);
      const result = await Promise.race([work, this.killedPromise.then(() => undefined)]);
      if (this.failure) {
        // already decided (watchdog, event limit, load failure)
      } else if (typeof result !== 'string' || result.length === 0) {
        this.failure = { code: 'INTERNAL', reason: 'BRIDGE_PROTOCOL', message: 'the sandbox returned no result' };
      } else if (result[0] === 'R') {
        outputJson = result.slice(1);
      } else {
        this.failure = this.toolFailure(result.slice(1));
      }
    } catch (error) {
      if (!this.failure) this.failure = this.classify(error);
    } finally {
      this.finished = true;
      clearTimeout(wall);
      clearTimeout(warn);
      clearInterval(cpu);
      cpuMs = cpuUsedMs();
      const pendingHostWork = this.requests.size > 0;
      for (const timer of this.requests.values()) if (timer) clearTimeout(timer);
      this.requests.clear();
      this.control = undefined;
      const used = realm as ToolRealm | undefined;
      if (used) used.target = undefined;
      // Context reuse (opt-in): only after a clean success with nothing left pending; any failure discards it.
      const reuse = this.message.reuse;
      const keep = reuse && used && !this.failure && !pendingHostWork && !isolate.isDisposed
        ? { key: reuse.key, warm: this.warm, realm: used, calls: (this.kept?.calls ?? 0) + 1 }
        : undefined;
      if (!(reuse && keep && this.pool.keep(reuse, keep))) {
        if (this.kept) {
          if (used !== this.kept.realm) used?.release();
          this.pool.discardKept(this.kept);
        } else {
          used?.release();
          const failedCleanly = !this.failure || REUSABLE_AFTER.has(this.failure.reason);
          this.pool.release(this.warm, failedCleanly && !pendingHostWork && !isolate.isDisposed);
        }
      }
    }
    if (this.failure) return { t: 'done', id: this.message.id, ok: false, failure: this.failure, cpuMs, retire: this.retire };
    return { t: 'done', id: this.message.id, ok: true, outputJson, cpuMs };
  }

  /** A reply from the parent to a request (fetch) the tool made. */
  reply(requestId: number, json: string): void {
    if (!this.requests.has(requestId)) return;
    this.requests.delete(requestId);
    this.deliver(requestId, json);
  }

  /** Cancel: abort ctx.signal, then free the isolate shortly after. */
  abort(reason: string): void {
    if (this.finished) return;
    this.control?.apply(undefined, ['abort', clip(reason)], { timeout: ABORT_GRACE_MS }).catch(() => undefined);
    setTimeout(() => this.kill({ code: 'CANCELLED', reason: 'CANCELLED', message: clip(reason) }), ABORT_GRACE_MS).unref();
  }

  private kill(failure: WorkerFailure): void {
    if (this.finished || this.failure) return;
    this.failure = failure;
    if (!this.warm.isolate.isDisposed) this.warm.isolate.dispose();
    this.killed();
  }

  private deliver(requestId: number, json: string): void {
    if (this.finished || !this.control) return;
    this.control.apply(undefined, ['reply', requestId, json], { timeout: this.remainingMs() }).catch((error: unknown) => {
      if (!this.finished) this.kill(this.classify(error));
    });
  }

  private callJson(): string {
    return JSON.stringify({
      callId: this.message.callId,
      deadline: this.message.deadline,
      attempt: this.message.attempt,
      secrets: this.message.secrets,
      maxOutputChars: this.message.limits.maxOutputBytes,
    });
  }

  /** A call across the realm's bridge: untrusted arguments, never throws. */
  onBridge(op: unknown, requestId: unknown, json: unknown): string {
    const limits = this.message.limits;
    try {
      if (this.finished || this.failure) return 'ended';
      if (typeof op !== 'string' || typeof json !== 'string' || typeof requestId !== 'number' || !Number.isSafeInteger(requestId)) {
        this.kill({ code: 'INVALID_ARGUMENT', reason: 'BRIDGE_MISUSE', message: 'malformed call across the sandbox bridge' });
        return 'refused';
      }
      const max = op === 'fetch' ? limits.maxFetchRequestChars : limits.maxBridgeArgChars;
      if (json.length > max) {
        this.kill({ code: 'RESOURCE_EXHAUSTED', reason: 'BRIDGE_ARGUMENT_TOO_LARGE', message: `a ${op} argument is larger than ${max} characters` });
        return 'refused';
      }
      if (EVENT_OPS.has(op)) {
        if (++this.events > limits.maxEvents) {
          this.kill({ code: 'RESOURCE_EXHAUSTED', reason: 'EVENT_LIMIT', message: `the tool emitted more than ${limits.maxEvents} events` });
          return 'refused';
        }
        this.host.forward(op, 0, json);
        return 'ok';
      }
      if (op === 'timer') return this.startTimer(requestId, json);
      if (op === 'clearTimer') return this.clearTimer(json);
      if (op === 'fetch') {
        if (this.requests.size >= limits.maxTimers) {
          this.deliverLater(requestId, { error: { code: 'RESOURCE_EXHAUSTED', message: 'too many requests in flight' } });
          return 'ok';
        }
        this.requests.set(requestId, null);
        this.host.forward(op, requestId, json);
        return 'ok';
      }
      this.kill({ code: 'INVALID_ARGUMENT', reason: 'BRIDGE_MISUSE', message: 'unknown operation across the sandbox bridge' });
      return 'refused';
    } catch {
      return 'refused';
    }
  }

  private deliverLater(requestId: number, reply: unknown): void {
    const json = JSON.stringify(reply);
    setImmediate(() => this.deliver(requestId, json));
  }

  private startTimer(requestId: number, json: string): string {
    let parsed: { ms?: unknown; timer?: unknown };
    try {
      parsed = JSON.parse(json) as { ms?: unknown; timer?: unknown };
    } catch {
      return 'refused';
    }
    const ms = typeof parsed.ms === 'number' && Number.isFinite(parsed.ms) ? parsed.ms : 0;
    const timer = typeof parsed.timer === 'number' ? parsed.timer : 0;
    if (this.requests.size >= this.message.limits.maxTimers) {
      this.deliverLater(requestId, { error: { code: 'RESOURCE_EXHAUSTED', message: 'too many pending timers' } });
      return 'ok';
    }
    // A timer past the deadline would never fire usefully: it waits for the watchdog.
    const delay = Math.min(Math.max(0, ms), this.remainingMs() + 1000);
    const handle = setTimeout(() => {
      if (!this.requests.has(requestId)) return;
      this.requests.delete(requestId);
      this.timersById.delete(timer);
      this.deliver(requestId, '{"value":null}');
    }, delay);
    this.requests.set(requestId, handle);
    this.timersById.set(timer, requestId);
    return 'ok';
  }

  private readonly timersById = new Map<number, number>();

  private clearTimer(json: string): string {
    try {
      const parsed = JSON.parse(json) as { timer?: unknown };
      const requestId = typeof parsed.timer === 'number' ? this.timersById.get(parsed.timer) : undefined;
      if (requestId === undefined) return 'ok';
      this.timersById.delete(parsed.timer as number);
      const handle = this.requests.get(requestId);
      if (handle) clearTimeout(handle);
      this.requests.delete(requestId);
      this.deliver(requestId, '{"value":null}');
    } catch {
      /* ignore a malformed clear */
    }
    return 'ok';
  }

  private toolFailure(json: string): WorkerFailure {
    try {
      const e = JSON.parse(json) as { code?: unknown; message?: unknown; name?: unknown };
      const message = clip(typeof e.message === 'string' ? e.message : 'the tool failed');
      const name = typeof e.name === 'string' ? e.name.slice(0, 100) : undefined;
      if (e.code === 'INVALID_TOOL') return { code: 'FAILED_PRECONDITION', reason: 'INVALID_TOOL', message };
      if (e.code === 'OUTPUT_TOO_LARGE') return { code: 'RESOURCE_EXHAUSTED', reason: 'OUTPUT_TOO_LARGE', message };
      if (e.code === 'INVALID_OUTPUT') return { code: 'INTERNAL', reason: 'INVALID_OUTPUT', message };
      // A tool rethrowing our own refusal keeps its meaning; anything else is the tool's failure.
      if (e.code === 'PERMISSION_DENIED') return { code: 'PERMISSION_DENIED', reason: 'PERMISSION_DENIED', message, name };
      if (e.code === 'RESOURCE_EXHAUSTED') return { code: 'RESOURCE_EXHAUSTED', reason: 'TOOL_LIMIT', message, name };
      // The tool refused its input (the SDK's ToolInputError): the caller's mistake, not the tool's failure; never retried.
      // (A bridge refusal the tool let through carries INVALID_ARGUMENT and stays the tool's failure.)
      if (e.code === 'INVALID_TOOL_INPUT') return { code: 'INVALID_ARGUMENT', reason: 'INVALID_TOOL_INPUT', message, name };
      return { code: 'INTERNAL', reason: 'TOOL_ERROR', message, name };
    } catch {
      return { code: 'INTERNAL', reason: 'BRIDGE_PROTOCOL', message: 'the sandbox returned an unreadable error' };
    }
  }

  private classify(error: unknown): WorkerFailure {
    const message = messageOf(error);
    if (/memory limit/i.test(message) || (this.warm.isolate.isDisposed && !this.failure && /disposed/i.test(message))) {
      this.retire = true;
      return { code: 'RESOURCE_EXHAUSTED', reason: 'MEMORY_LIMIT', message: `the tool exceeded its memory limit of ${this.warm.version.memoryMb} MB` };
    }
    if (/timed out/i.test(message)) {
      return { code: 'DEADLINE_EXCEEDED', reason: 'TIMEOUT', message: `the tool did not finish within ${this.message.limits.timeoutMs} ms` };
    }
    if (/stack/i.test(message) && /exceeded/i.test(message)) {
      return { code: 'INTERNAL', reason: 'TOOL_ERROR', message };
    }
    return { code: 'INTERNAL', reason: 'SANDBOX_ERROR', message };
  }
}
