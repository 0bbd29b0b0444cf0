import { errors } from '@elixirchain/runtime';
import { ToolWorker } from './tool-worker.js';
import { registerSandboxPoolMetrics, type PoolUtilisation } from '../metrics/sandbox-pool-metrics.js';

export interface WorkerSupervisorOptions {
  workers: number;
  /** Calls one worker runs at once (each on its own isolate). */
  maxCallsPerWorker: number;
  /** Calls waiting for a worker; beyond it callers get RESOURCE_EXHAUSTED. */
  maxQueue: number;
  workerHeapMb: number;
  /** Restart intensity: more than `maxRestarts` within `withinMs` slows restarts down. */
  maxRestarts: number;
  withinMs: number;
  onWorkerExit?: (info: { workerId: number; pid: number | undefined; reason: string }) => void;
}

interface Waiter {
  resolve: (worker: ToolWorker) => void;
  reject: (error: unknown) => void;
}

export interface WorkerInfo {
  workerId: number;
  pid: number | undefined;
  state: string;
  load: number;
}

/**
 * One-for-one supervision of the tool workers, and the bounded queue in front
 * of them. A worker that dies is replaced; one that asks to retire (an isolate
 * hit its heap limit) gets no new calls and is replaced once idle.
 */
export class WorkerSupervisor {
  private readonly workers: ToolWorker[] = [];
  private readonly queue: Waiter[] = [];
  private readonly restartTimes: number[] = [];
  private state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  restarts = 0;
  private unregisterMetrics: (() => void) | undefined;

  constructor(private readonly options: WorkerSupervisorOptions) {}

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.unregisterMetrics = registerSandboxPoolMetrics(() => this.utilisation());
    const started = Array.from({ length: this.options.workers }, () => this.spawn());
    await Promise.all(started.map((w) => w.ready().catch(() => undefined)));
  }

  info(): WorkerInfo[] {
    return this.workers.map((w) => ({ workerId: w.workerId, pid: w.pid, state: w.state, load: w.load }));
  }

  /** Workers, busy ones, calls against slots and waiting calls: what the pool gauges report. */
  utilisation(): PoolUtilisation {
    const now = { workers: this.workers.length, readyWorkers: 0, busyWorkers: 0, callsInFlight: 0, slots: 0, queueDepth: this.queue.length };
    for (const worker of this.workers) {
      if (worker.state === 'ready') now.readyWorkers += 1;
      const calls = this.busy(worker);
      if (calls > 0) now.busyWorkers += 1;
      now.callsInFlight += calls;
    }
    now.slots = now.readyWorkers * this.options.maxCallsPerWorker;
    return now;
  }

  /** Every live worker, e.g. to evict a deleted version everywhere. */
  all(): readonly ToolWorker[] {
    return this.workers;
  }

  /**
   * Waits for a worker with a free slot. The slot is taken by the call the
   * caller makes on the worker right away (load counts in-flight calls).
   */
  acquire(signal?: AbortSignal): Promise<ToolWorker> {
    if (this.state !== 'running') return Promise.reject(errors.unavailable('SANDBOX_STOPPING', 'the tool sandbox is shutting down', 1000));
    const free = this.pickFree();
    if (free) return Promise.resolve(free);
    if (this.queue.length >= this.options.maxQueue) {
      return Promise.reject(
        errors.resourceExhausted('SANDBOX_BUSY', `all tool workers are busy and ${this.queue.length} calls are waiting`, 250 + this.queue.length * 10),
      );
    }
    return new Promise<ToolWorker>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      this.queue.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.queue.indexOf(waiter);
          if (at >= 0) {
            this.queue.splice(at, 1);
            reject(errors.cancelled('the call was cancelled while waiting for a worker'));
          }
        },
        { once: true },
      );
    });
  }

  /** Reserved slots: a worker handed out by acquire counts as busy until its call starts. */
  private readonly reserved = new Map<ToolWorker, number>();

  /** Must follow acquire() once the call has been sent (or abandoned). */
  settle(worker: ToolWorker): void {
    const n = (this.reserved.get(worker) ?? 1) - 1;
    if (n <= 0) this.reserved.delete(worker);
    else this.reserved.set(worker, n);
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    this.unregisterMetrics?.();
    for (const waiter of this.queue.splice(0)) waiter.reject(errors.unavailable('SANDBOX_STOPPING', 'the tool sandbox is shutting down', 1000));
    const exits = this.workers.map((w) => w.exited());
    for (const worker of this.workers) worker.kill('SIGKILL');
    await Promise.all(exits);
    this.state = 'stopped';
  }

  private busy(worker: ToolWorker): number {
    return worker.load + (this.reserved.get(worker) ?? 0);
  }

  private pickFree(): ToolWorker | undefined {
    let best: ToolWorker | undefined;
    for (const worker of this.workers) {
      if (worker.state !== 'ready') continue;
      const busy = this.busy(worker);
      if (busy >= this.options.maxCallsPerWorker) continue;
      if (!best || busy < this.busy(best)) best = worker;
    }
    if (best) this.reserved.set(best, (this.reserved.get(best) ?? 0) + 1);
    return best;
  }

  private spawn(): ToolWorker {
    const worker = new ToolWorker({
      heapMb: this.options.workerHeapMb,
      idlePerVersion: this.options.maxCallsPerWorker,
      idleTotal: Math.max(64, this.options.maxCallsPerWorker * 4),
    });
    this.workers.push(worker);
    worker.on('ready', () => this.dispatch());
    worker.on('idle-slot', () => {
      if (worker.state === 'retiring' && worker.load === 0) worker.kill('SIGKILL');
      this.dispatch();
    });
    worker.on('exit', (reason: string) => {
      const at = this.workers.indexOf(worker);
      if (at >= 0) this.workers.splice(at, 1);
      this.reserved.delete(worker);
      if (this.state !== 'running') return;
      this.options.onWorkerExit?.({ workerId: worker.workerId, pid: worker.pid, reason });
      this.scheduleRestart();
    });
    return worker;
  }

  private scheduleRestart(): void {
    const now = Date.now();
    this.restartTimes.push(now);
    while (this.restartTimes.length > 0 && now - this.restartTimes[0]! > this.options.withinMs) this.restartTimes.shift();
    // Past the intensity limit we keep serving with fewer workers for a while instead of spinning.
    const delay = this.restartTimes.length > this.options.maxRestarts ? this.options.withinMs / 2 : 0;
    const timer = setTimeout(() => {
      if (this.state !== 'running') return;
      this.restarts++;
      this.spawn();
    }, delay);
    timer.unref();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.pickFree();
      if (!worker) return;
      this.queue.shift()!.resolve(worker);
    }
  }
}
