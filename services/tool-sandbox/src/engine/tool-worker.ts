import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { CallLimits, ContextReuseRequest, DoneMessage, ParentMessage, ToolVersionSource, WorkerMessage } from './worker-protocol.js';

const WORKER_ENTRY = fileURLToPath(new URL('./tool-worker-main.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
/** How long past a call's own timeout a worker may stay silent before it is killed as hung. */
const HUNG_GRACE_MS = 2000;

export type ToolWorkerState = 'starting' | 'ready' | 'retiring' | 'exited';

export interface WorkerCallHandlers {
  /** A tool event: log, progress or partial, as the JSON the tool sent. */
  onEvent(op: string, json: string): void;
  /** A request (fetch) to answer with `reply`. */
  onRequest(op: string, requestId: number, json: string): void;
}

export interface WorkerInvocation {
  version: ToolVersionSource;
  inputJson: string;
  callId: string;
  attempt: number;
  deadline: number;
  limits: CallLimits;
  secrets: Record<string, string>;
  reuse?: ContextReuseRequest;
}

export interface RunningWorkerCall {
  done: Promise<DoneMessage>;
  reply(requestId: number, json: string): void;
  abort(reason: string): void;
}

interface Inflight {
  resolve: (done: DoneMessage) => void;
  handlers?: WorkerCallHandlers;
  hung?: NodeJS.Timeout;
}

export interface ToolWorkerOptions {
  /** Heap of the worker's own Node runtime: what host-side copies may use before the worker dies. */
  heapMb: number;
  /** Warm isolates kept per tool version: as many as calls may run at once, or they churn. */
  idlePerVersion: number;
  idleTotal: number;
}

/** The environment a worker sees: the service's, without any secret. */
function workerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('ELIXIRCHAIN_SECRET')) continue;
    env[key] = value;
  }
  return env;
}

/**
 * ELIXIRCHAIN_SANDBOX_WORKER_CPU_PROF=<dir>: every worker writes a V8 CPU
 * profile into <dir> when it exits by SIGTERM (which a profiling worker
 * turns into a normal exit; stop() kills with SIGKILL, which writes nothing).
 */
function cpuProfileFlags(): string[] {
  const dir = process.env.ELIXIRCHAIN_SANDBOX_WORKER_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/**
 * The parent's handle on one worker process. Calls held by a worker that
 * exits are failed with UNAVAILABLE; the supervisor decides what comes next.
 */
export class ToolWorker extends EventEmitter {
  private static nextWorkerId = 1;
  readonly workerId = ToolWorker.nextWorkerId++;
  state: ToolWorkerState = 'starting';
  exitReason = '';
  private readonly child: ChildProcess;
  private readonly inflight = new Map<number, Inflight>();
  private readonly known = new Set<string>();
  private nextCallId = 1;
  private readonly readyPromise: Promise<void>;

  constructor(options: ToolWorkerOptions) {
    super();
    this.child = fork(WORKER_ENTRY, [], {
      execPath: process.execPath,
      execArgv: [...cpuProfileFlags(), `--import=${TSX_LOADER}`, '--no-node-snapshot', `--max-old-space-size=${options.heapMb}`],
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {
        ...workerEnv(),
        ELIXIRCHAIN_SANDBOX_IDLE_PER_VERSION: String(options.idlePerVersion),
        ELIXIRCHAIN_SANDBOX_IDLE_TOTAL: String(options.idleTotal),
      },
    });
    this.readyPromise = new Promise<void>((resolve, reject) => {
      const onExit = () => reject(new Error(`tool worker exited during start-up: ${this.exitReason}`));
      this.once('exit', onExit);
      this.once('ready', () => {
        this.off('exit', onExit);
        resolve();
      });
    });
    this.readyPromise.catch(() => undefined);
    this.child.on('message', (message: WorkerMessage) => this.onMessage(message));
    this.child.on('error', () => undefined);
    this.child.on('exit', (code, signal) => this.onExit(code, signal));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get load(): number {
    return this.inflight.size;
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  invoke(invocation: WorkerInvocation, handlers: WorkerCallHandlers): RunningWorkerCall {
    const id = this.nextCallId++;
    const { version } = invocation;
    const sendVersion = !this.known.has(version.key);
    this.known.add(version.key);
    const done = this.track(id, handlers, invocation.limits.timeoutMs);
    this.send({
      t: 'invoke',
      id,
      key: version.key,
      version: sendVersion ? version : undefined,
      inputJson: invocation.inputJson,
      callId: invocation.callId,
      attempt: invocation.attempt,
      deadline: invocation.deadline,
      limits: invocation.limits,
      secrets: invocation.secrets,
      reuse: invocation.reuse,
    });
    return {
      done,
      reply: (requestId, json) => {
        if (this.inflight.has(id)) this.send({ t: 'reply', id, requestId, json });
      },
      abort: (reason) => {
        if (this.inflight.has(id)) this.send({ t: 'abort', id, reason });
      },
    };
  }

  prepare(version: ToolVersionSource, timeoutMs: number): Promise<DoneMessage> {
    const id = this.nextCallId++;
    this.known.add(version.key);
    const done = this.track(id, undefined, timeoutMs);
    this.send({ t: 'prepare', id, version, timeoutMs });
    return done.then((result) => {
      if (!result.ok) this.known.delete(version.key);
      return result;
    });
  }

  evict(keys: string[]): void {
    const held = keys.filter((key) => this.known.delete(key));
    if (held.length > 0) this.send({ t: 'evict', keys: held });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.state !== 'exited') this.child.kill(signal);
  }

  /** Resolves once the process has exited. */
  exited(): Promise<void> {
    if (this.state === 'exited') return Promise.resolve();
    return new Promise((resolve) => this.once('exit', () => resolve()));
  }

  private track(id: number, handlers: WorkerCallHandlers | undefined, timeoutMs: number): Promise<DoneMessage> {
    return new Promise<DoneMessage>((resolve) => {
      const entry: Inflight = { resolve, handlers };
      // The worker's own watchdog should answer well before this; silence means it is stuck.
      entry.hung = setTimeout(() => {
        this.exitReason = `a call stayed unanswered ${HUNG_GRACE_MS} ms past its ${timeoutMs} ms limit`;
        this.kill('SIGKILL');
      }, timeoutMs + HUNG_GRACE_MS);
      this.inflight.set(id, entry);
      if (this.state === 'exited') this.failAll();
    });
  }

  private send(message: ParentMessage): void {
    if (this.state === 'exited' || !this.child.connected) return;
    this.child.send(message, (error) => {
      if (error) this.kill('SIGKILL');
    });
  }

  private onMessage(message: WorkerMessage): void {
    if (message === null || typeof message !== 'object') return;
    if (message.t === 'ready') {
      if (this.state === 'starting') this.state = 'ready';
      this.emit('ready');
      return;
    }
    const entry = typeof message.id === 'number' ? this.inflight.get(message.id) : undefined;
    if (!entry) return;
    if (message.t === 'bridge') {
      if (typeof message.op !== 'string' || typeof message.json !== 'string') return;
      if (message.requestId === 0) entry.handlers?.onEvent(message.op, message.json);
      else entry.handlers?.onRequest(message.op, message.requestId, message.json);
      return;
    }
    if (message.t === 'done') {
      this.inflight.delete(message.id);
      clearTimeout(entry.hung);
      if (message.retire && this.state === 'ready') this.state = 'retiring';
      entry.resolve(message);
      this.emit('idle-slot');
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.state = 'exited';
    if (!this.exitReason) this.exitReason = signal ? `killed by ${signal}` : `exited with code ${code}`;
    this.failAll();
    this.emit('exit', this.exitReason);
  }

  private failAll(): void {
    for (const [id, entry] of this.inflight) {
      clearTimeout(entry.hung);
      this.inflight.delete(id);
      entry.resolve({
        t: 'done',
        id,
        ok: false,
        cpuMs: 0,
        failure: { code: 'UNAVAILABLE', reason: 'WORKER_CRASHED', message: `the tool worker process died while running this call (${this.exitReason})` },
      });
    }
  }
}
