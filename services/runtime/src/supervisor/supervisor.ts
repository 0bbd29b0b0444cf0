import { EventEmitter } from 'node:events';

// A one-for-one supervisor, as in OTP: its job is restart policy and nothing
// else. Each child is restarted on its own when it exits; a child restarted
// more than `maxRestarts` times within `periodMs` is given up on, and the
// owner hears of it through the 'gaveUp' event (escalation).

/** permanent: always restarted; transient: only after an abnormal exit; temporary: never. */
export type RestartPolicy = 'permanent' | 'transient' | 'temporary';

export interface ExitReason {
  /** A clean, intended exit. */
  normal: boolean;
  error?: unknown;
  code?: number | null;
  signal?: string | null;
}

/** Anything supervised: it reports its own exit and can be asked to stop. */
export interface Supervised {
  readonly exited: Promise<ExitReason>;
  stop(): Promise<void>;
}

export interface RestartIntensity {
  maxRestarts: number;
  periodMs: number;
}

export interface ChildSpec<T extends Supervised = Supervised> {
  id: string;
  start: () => Promise<T> | T;
  restart?: RestartPolicy;
  /** Overrides the supervisor's intensity for this child. */
  intensity?: RestartIntensity;
}

export type ChildStatus = 'running' | 'restarting' | 'stopped' | 'failed';

export interface ChildInfo {
  id: string;
  status: ChildStatus;
  restarts: number;
  lastExit?: ExitReason;
}

export interface SupervisorOptions {
  name?: string;
  intensity?: RestartIntensity;
  /** Delay before a restart, by restart number within the period (1, 2, …); default 50 ms × n. */
  restartDelayMs?: (restartNumber: number) => number;
}

interface ChildRecord {
  spec: ChildSpec<any>;
  child?: Supervised;
  status: ChildStatus;
  restartTimes: number[];
  restarts: number;
  lastExit?: ExitReason;
  stopping: boolean;
}

export interface SupervisorEvents {
  started: [id: string, child: Supervised];
  exit: [id: string, reason: ExitReason];
  restarted: [id: string, restartNumber: number];
  gaveUp: [id: string, reason: ExitReason, restartsInPeriod: number];
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly name: string;
  private readonly intensity: RestartIntensity;
  private readonly restartDelayMs: (n: number) => number;
  private readonly children = new Map<string, ChildRecord>();
  private stopping: Promise<void> | undefined;

  constructor(options: SupervisorOptions = {}) {
    super();
    this.name = options.name ?? 'supervisor';
    this.intensity = options.intensity ?? { maxRestarts: 3, periodMs: 5_000 };
    this.restartDelayMs = options.restartDelayMs ?? ((n) => 50 * n);
  }

  /** Starts a child and watches it. Rejects if its first start fails. */
  async startChild<T extends Supervised>(spec: ChildSpec<T>): Promise<T> {
    if (this.stopping) throw new Error(`${this.name} is stopping`);
    const existing = this.children.get(spec.id);
    if (existing && existing.status !== 'stopped' && existing.status !== 'failed') throw new Error(`child ${spec.id} is already supervised`);
    const record: ChildRecord = { spec, status: 'running', restartTimes: [], restarts: 0, stopping: false };
    this.children.set(spec.id, record);
    try {
      return (await this.launch(record)) as T;
    } catch (error) {
      this.children.delete(spec.id);
      throw error;
    }
  }

  /** The running instance of a child, if any. */
  child<T extends Supervised>(id: string): T | undefined {
    return this.children.get(id)?.child as T | undefined;
  }

  info(id: string): ChildInfo | undefined {
    const r = this.children.get(id);
    return r && { id, status: r.status, restarts: r.restarts, lastExit: r.lastExit };
  }

  which(): ChildInfo[] {
    return [...this.children.keys()].map((id) => this.info(id)!);
  }

  /** Stops a child without restarting it and forgets it. */
  async terminateChild(id: string): Promise<void> {
    const record = this.children.get(id);
    if (!record) return;
    record.stopping = true;
    this.children.delete(id);
    await record.child?.stop();
    await record.child?.exited;
    record.status = 'stopped';
  }

  /** Stops every child, newest first. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const ids = [...this.children.keys()].reverse();
      for (const id of ids) await this.terminateChild(id);
    })();
    return this.stopping;
  }

  private async launch(record: ChildRecord): Promise<Supervised> {
    const child = await record.spec.start();
    record.child = child;
    record.status = 'running';
    this.emit('started', record.spec.id, child);
    child.exited.then(
      (reason: ExitReason) => this.onExit(record, child, reason),
      (error: unknown) => this.onExit(record, child, { normal: false, error }),
    );
    return child;
  }

  private onExit(record: ChildRecord, child: Supervised, reason: ExitReason): void {
    if (record.child !== child) return;
    record.lastExit = reason;
    this.emit('exit', record.spec.id, reason);
    if (record.stopping || this.stopping || this.children.get(record.spec.id) !== record) {
      record.status = 'stopped';
      return;
    }
    const policy = record.spec.restart ?? 'permanent';
    if (policy === 'temporary' || (policy === 'transient' && reason.normal)) {
      record.status = 'stopped';
      this.children.delete(record.spec.id);
      return;
    }
    const intensity = record.spec.intensity ?? this.intensity;
    const now = Date.now();
    record.restartTimes = record.restartTimes.filter((t) => now - t < intensity.periodMs);
    if (record.restartTimes.length >= intensity.maxRestarts) {
      record.status = 'failed';
      this.emit('gaveUp', record.spec.id, reason, record.restartTimes.length);
      return;
    }
    record.restartTimes.push(now);
    record.restarts += 1;
    record.status = 'restarting';
    const restartNumber = record.restartTimes.length;
    setTimeout(() => {
      if (record.stopping || this.stopping) return;
      this.launch(record).then(
        () => this.emit('restarted', record.spec.id, restartNumber),
        (error) => this.onExit(record, child, { normal: false, error }),
      );
    }, this.restartDelayMs(restartNumber));
  }
}
