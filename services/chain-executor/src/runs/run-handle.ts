import { RunStatus } from '@elixirchain/proto/chain';
import type { RunEvent } from '@elixirchain/proto/chain';
import { ConcurrencyLimit } from '../execution/concurrency-limit.js';
import type { RunEventBody, RunExecution } from '../execution/step-interpreter.js';
import { activeTraceId, ElixirError, GrpcCode } from '@elixirchain/runtime';
import type { RunCheckpoint, RunCheckpointStore } from './run-checkpoint-store.js';
import type { RunRecord } from './run-record.js';
import { StepLedger, TERMINAL_RUN_STATUSES } from './run-record.js';

/**
 * Events a run may record beyond what is durable before its pure steps wait
 * for the writes to catch up (backpressure, and a bound on one row's size).
 */
export const MAX_UNDURABLE_EVENTS = 2_048;

/**
 * A run this process owns: its record, its event log (everything published
 * so far, in sequence order), and the events recorded but not yet durable.
 *
 * The output-commit rule: recording an event never waits. Whenever the run
 * has recorded something, one checkpoint of it is queued with the group
 * commit; it takes everything the run recorded until its batch is assembled
 * (one row per run and window), and the next one is queued when the run
 * records more. What waits for durability is what is seen outside the run:
 * a side-effecting step is dispatched only after `durable()` (everything
 * before it plus its start), watchers and GetRun/ListRuns see events and the
 * record only once durable (`events`, `ledger`, `view`), and a run is
 * reported finished only once its final checkpoint is durable. A crash loses
 * at most what nobody outside saw, and a restart re-derives it.
 */
export class RunHandle implements RunExecution {
  /** Published (durable) events, in sequence order. */
  readonly events: RunEvent[] = [];
  readonly controller = new AbortController();
  readonly slots: ConcurrencyLimit;
  completed: ReadonlyMap<string, unknown> = new Map();
  inDoubt: ReadonlyMap<string, number> = new Map();
  priorAttempts: ReadonlyMap<string, number> = new Map();
  /** Set when the executor stops: the run is left for the next start to resume, nothing terminal is written. */
  detached = false;
  /** True while this process is executing the run (a PAUSED run may still be executing: waiting for an approval). */
  executing = false;
  /** Why a checkpoint failed: the run stopped writing and was detached; the next start resumes it. */
  checkpointFailure: unknown;
  private readonly approvals = new Map<string, string>();
  /** Resolves once the run's record exists durably (at once for a run loaded from the store). */
  readonly created: Promise<void>;
  /** Recorded, not yet taken by a checkpoint. */
  private pending: RunEvent[] = [];
  private recordChanged = false;
  /** The next checkpoint creates the record (it must not exist yet). */
  private createPending = false;
  /**
   * idle: nothing queued; queued: a checkpoint waits in the group commit and
   * will take what is pending when its batch is built; writing: taken, not yet
   * durable. One checkpoint per run at a time, so a failed one is never
   * followed by a later one (no gap in the durable log), and the record
   * writes land in order.
   */
  private checkpointState: 'idle' | 'queued' | 'writing' = 'idle';
  private sequence: number;
  /** The highest durable (published) sequence. */
  private published: number;
  /** The record as of its last durable checkpoint. */
  private durableRecord: RunRecord;
  private durableWaiters: Array<{ sequence: number; resolve: () => void; reject: (error: unknown) => void }> = [];
  private waiters: Array<() => void> = [];
  private readonly folded = new StepLedger();
  private foldedCount = 0;

  constructor(
    /** The record as execution changes it; written with the next checkpoint after a status change. */
    public record: RunRecord,
    private readonly store: RunCheckpointStore,
    maxStepsInFlight: number,
    history: RunEvent[] = [],
    /** A new run: its first checkpoint creates the record (compare-and-set: must not exist). */
    create = false,
  ) {
    this.slots = new ConcurrencyLimit(maxStepsInFlight);
    for (const event of history) this.events.push(event);
    this.sequence = history.at(-1)?.sequence ?? record.lastSequence;
    this.published = this.sequence;
    this.durableRecord = { ...record };
    if (create) {
      this.createPending = true;
      this.recordChanged = true;
      this.created = this.queueCheckpoint();
    } else {
      this.created = Promise.resolve();
    }
  }

  get runId(): string {
    return this.record.id;
  }

  get runInput(): unknown {
    return this.record.input;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The last sequence recorded (durable or not). */
  get lastSequence(): number {
    return this.sequence;
  }

  /** The last durable sequence: what watchers can have seen. */
  get publishedSequence(): number {
    return this.published;
  }

  /** The run as GetRun and ListRuns show it: as of its last durable checkpoint. */
  get view(): RunRecord {
    return this.durableRecord.lastSequence === this.published ? this.durableRecord : { ...this.durableRecord, lastSequence: this.published };
  }

  /** Per-step state folded from the published (durable) events; folded when asked, not per event. */
  get ledger(): StepLedger {
    while (this.foldedCount < this.events.length) this.folded.apply(this.events[this.foldedCount++]!);
    return this.folded;
  }

  /** Finished as far as anyone outside can tell: its final status is durable. */
  get finished(): boolean {
    const status = this.durableRecord.status;
    return TERMINAL_RUN_STATUSES.has(status) || (status === RunStatus.RUN_STATUS_PAUSED && !this.executing);
  }

  /**
   * An agent step's turn waits for (or got) an approval: the run shows PAUSED
   * while any approval is pending and RUNNING again once none is. It keeps
   * executing meanwhile: the turn continues when ResolveApproval is called.
   */
  setAwaitingApproval(path: string, waiting: boolean, reason: string): void {
    if (waiting) {
      this.approvals.set(path, reason);
      if (this.approvals.size !== 1 || this.record.status !== RunStatus.RUN_STATUS_RUNNING) return;
      this.record.status = RunStatus.RUN_STATUS_PAUSED;
      this.record.pausedFor = 'approval';
      this.emit({ $case: 'runPaused', runPaused: { reason } }, true);
    } else {
      if (!this.approvals.delete(path) || this.approvals.size > 0 || this.record.status !== RunStatus.RUN_STATUS_PAUSED) return;
      this.record.status = RunStatus.RUN_STATUS_RUNNING;
      this.record.pausedFor = undefined;
      this.emit({ $case: 'runStarted', runStarted: { chainId: this.record.chainId, chainVersion: this.record.chainVersion, input: this.record.input, traceId: activeTraceId() } }, true);
    }
  }

  /** Takes what the log says so far as the starting point: completed steps replay, open ones are in doubt. */
  prepareReplay(): void {
    this.completed = new Map(this.ledger.completed);
    this.inDoubt = this.ledger.inDoubt();
    this.priorAttempts = new Map([...this.ledger.states.values()].map((s) => [s.path, s.attempts]));
  }

  /**
   * Records an event (and, with `recordChanged`, the run record as it is when
   * the checkpoint is taken). Never waits: the event is written with the
   * run's next checkpoint and published once that is durable.
   */
  emit(body: RunEventBody, recordChanged = false): void {
    this.pending.push({ sequence: ++this.sequence, runId: this.record.id, time: new Date(), event: body });
    if (recordChanged) this.recordChanged = true;
    if (this.checkpointState === 'idle' && this.checkpointFailure === undefined) void this.queueCheckpoint();
  }

  /** Resolves once everything recorded so far is durable; rejects if the run's checkpoints failed. */
  durable(): Promise<void> {
    if (this.checkpointFailure !== undefined) return Promise.reject(this.checkpointFailure);
    if (this.published >= this.sequence) return Promise.resolve();
    return new Promise((resolve, reject) => this.durableWaiters.push({ sequence: this.sequence, resolve, reject }));
  }

  /** A promise to wait on when this run has recorded too much beyond what is durable; else undefined. */
  backlog(): Promise<void> | undefined {
    return this.sequence - this.published > MAX_UNDURABLE_EVENTS ? this.durable() : undefined;
  }

  /** Queues the run's next checkpoint; the promise settles with it (callers other than `created` ignore it). */
  private queueCheckpoint(): Promise<void> {
    this.checkpointState = 'queued';
    let taken: RunCheckpoint | undefined;
    const written = this.store
      .checkpoint(this.record.id, () => {
        this.checkpointState = 'writing';
        const events = this.pending;
        this.pending = [];
        let record: RunRecord | undefined;
        if (this.recordChanged) {
          this.recordChanged = false;
          record = { ...this.record, lastSequence: this.sequence };
        }
        taken = { events, record, create: this.createPending };
        this.createPending = false;
        return taken;
      })
      .then(
        () => {
          this.checkpointState = 'idle';
          this.publish(taken!);
          if ((this.pending.length > 0 || this.recordChanged) && this.checkpointFailure === undefined) void this.queueCheckpoint();
        },
        (error: unknown) => {
          this.fail(error);
          throw error;
        },
      );
    written.catch(() => {});
    return written;
  }

  private publish(checkpoint: RunCheckpoint): void {
    for (const e of checkpoint.events) this.events.push(e);
    if (checkpoint.events.length > 0) this.published = checkpoint.events.at(-1)!.sequence;
    if (checkpoint.record) this.durableRecord = checkpoint.record;
    if (this.durableWaiters.length > 0) {
      const ready = this.durableWaiters.filter((w) => w.sequence <= this.published);
      if (ready.length > 0) {
        this.durableWaiters = this.durableWaiters.filter((w) => w.sequence > this.published);
        for (const w of ready) w.resolve();
      }
    }
    this.notify();
  }

  /**
   * A checkpoint could not be written (memory unreachable past the outage
   * budget, or the lease is lost): write nothing more, so the durable log
   * has no gap, and stop the run here; it stays where its last durable
   * checkpoint left it, for the next start (or another replica) to resume.
   */
  private fail(error: unknown): void {
    if (this.checkpointFailure !== undefined) return;
    this.checkpointFailure = error;
    const waiters = this.durableWaiters;
    this.durableWaiters = [];
    for (const w of waiters) w.reject(error);
    this.detached = true;
    this.controller.abort(new ElixirError(GrpcCode.UNAVAILABLE, 'CHECKPOINT_FAILED', 'the run could not be checkpointed'));
    this.notify();
  }

  /** Resolves when new events are published or the signal aborts. */
  changed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Published events with sequence > after. */
  eventsAfter(after: number): RunEvent[] {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.sequence <= after) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo);
  }

  /** Wakes watchers without new events (e.g. the run ended). */
  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
