import { RunStatus } from '@elixirchain/proto/chain';
import type { RunEvent } from '@elixirchain/proto/chain';
import { activeTraceId } from '@elixirchain/runtime';
import { ConcurrencyLimit } from '../execution/concurrency-limit.js';
import type { RunEventBody, RunExecution } from '../execution/step-interpreter.js';
import type { RunCheckpointStore } from './run-checkpoint-store.js';
import type { RunRecord } from './run-record.js';
import { StepLedger, TERMINAL_RUN_STATUSES } from './run-record.js';

/**
 * A run this process owns: its record, its event log (everything published
 * so far, in sequence order), and the buffer of events recorded but not yet
 * durable. Events reach watchers only once they are durable, so a watcher
 * never sees an event a crash could take back.
 */
export class RunHandle implements RunExecution {
  readonly ledger = new StepLedger();
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
  private readonly approvals = new Map<string, string>();
  private pending: RunEvent[] = [];
  private sequence: number;
  private waiters: Array<() => void> = [];
  private progressScheduled = false;

  constructor(
    public record: RunRecord,
    private readonly store: RunCheckpointStore,
    maxStepsInFlight: number,
    history: RunEvent[] = [],
  ) {
    this.slots = new ConcurrencyLimit(maxStepsInFlight);
    for (const event of history) {
      this.ledger.apply(event);
      this.events.push(event);
    }
    this.sequence = history.at(-1)?.sequence ?? record.lastSequence;
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

  get lastSequence(): number {
    return this.sequence;
  }

  get finished(): boolean {
    return TERMINAL_RUN_STATUSES.has(this.record.status) || (this.record.status === RunStatus.RUN_STATUS_PAUSED && !this.executing);
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
      this.emit({ $case: 'runPaused', runPaused: { reason } });
    } else {
      if (!this.approvals.delete(path) || this.approvals.size > 0 || this.record.status !== RunStatus.RUN_STATUS_PAUSED) return;
      this.record.status = RunStatus.RUN_STATUS_RUNNING;
      this.record.pausedFor = undefined;
      this.emit({ $case: 'runStarted', runStarted: { chainId: this.record.chainId, chainVersion: this.record.chainVersion, input: this.record.input, traceId: activeTraceId() } });
    }
    this.checkpoint(true).catch(() => {
      // The status is rewritten with the run's next record checkpoint.
    });
  }

  /** Takes what the log says so far as the starting point: completed steps replay, open ones are in doubt. */
  prepareReplay(): void {
    this.completed = new Map(this.ledger.completed);
    this.inDoubt = this.ledger.inDoubt();
    this.priorAttempts = new Map([...this.ledger.states.values()].map((s) => [s.path, s.attempts]));
  }

  emit(body: RunEventBody): void {
    const event: RunEvent = { sequence: ++this.sequence, runId: this.record.id, time: new Date(), event: body };
    this.ledger.apply(event);
    this.pending.push(event);
  }

  checkpoint(withRecord = false): Promise<void> {
    const events = this.pending;
    if (events.length === 0 && !withRecord) return Promise.resolve();
    this.pending = [];
    this.record.lastSequence = this.sequence;
    return this.store.checkpoint(this.record.id, events, withRecord ? { ...this.record } : undefined).then(() => this.publish(events));
  }

  emitProgress(body: RunEventBody): void {
    this.emit(body);
    if (this.progressScheduled) return;
    this.progressScheduled = true;
    setImmediate(() => {
      this.progressScheduled = false;
      this.checkpoint().catch(() => {
        // The next step checkpoint carries these events or fails the step itself.
      });
    });
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

  private publish(events: RunEvent[]): void {
    for (const e of events) this.events.push(e);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Wakes watchers without new events (e.g. the run ended). */
  notify(): void {
    this.publish([]);
  }
}
