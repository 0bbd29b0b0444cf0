import { createHash, randomUUID } from 'node:crypto';
import { RunStatus } from '@elixirchain/proto/chain';
import type { Run, RunEvent } from '@elixirchain/proto/chain';
import { activeTraceId, asElixirError, ElixirError, errors, GrpcCode, runDetached, toRpcStatus } from '@elixirchain/runtime';
import type { Logger } from '@elixirchain/runtime';
import type { ChainRepository } from '../definitions/chain-repository.js';
import type { StepInterpreter } from '../execution/step-interpreter.js';
import { StepFailure, StepOutcomeUnknown } from '../execution/step-failure.js';
import type { RunCheckpointStore, RunFilter } from './run-checkpoint-store.js';
import { RunHandle } from './run-handle.js';
import type { RunOwnership } from './run-ownership.js';
import type { RunRecord } from './run-record.js';
import { timePrefix } from '../storage/time-ordered-id.js';
import { StepLedger, TERMINAL_RUN_STATUSES, toRunMessage } from './run-record.js';
import { VersionConflictError } from '../storage/state-store.js';

/**
 * A run id without a request id: the creation time (ms, hex) then 48 random bits, so a run's
 * keys (`runs/<id>`, `run-events/<id>/…`) sort by when it started. Memory's state is a B-tree
 * by key: runs started together land on the same few pages, appended at the end, instead of
 * each dirtying a random page per checkpoint (fewer pages per commit and per WAL checkpoint).
 */
const newRunId = () => {
  const random = randomUUID();
  return `run-${timePrefix()}${random.slice(0, 8)}${random.slice(9, 13)}`;
};

export interface RunLimits {
  /** Runs executing at once; more wait in the queue. */
  maxActiveRuns: number;
  /** Runs waiting to start; past this StartRun answers RESOURCE_EXHAUSTED. */
  maxQueuedRuns: number;
  /** Leaf steps in flight per run. */
  maxStepsInFlightPerRun: number;
  /** How long a finished run's events stay in memory for watchers before they are read from the store. */
  finishedRetentionMs: number;
}

export const DEFAULT_RUN_LIMITS: RunLimits = { maxActiveRuns: 64, maxQueuedRuns: 1_000, maxStepsInFlightPerRun: 32, finishedRetentionMs: 10_000 };

const STOPPING = 'EXECUTOR_STOPPING';

/**
 * Owns the runs of this executor: a bounded queue in front of a bounded set
 * of active runs (demand-driven: a run starts when a slot frees), their
 * event logs for watchers, cancellation, resumption and recovery after a
 * restart.
 */
export class RunManager {
  private readonly handles = new Map<string, RunHandle>();
  private readonly queue: RunHandle[] = [];
  private active = 0;
  private stopping = false;
  private readonly running = new Set<Promise<void>>();
  private takeoverTimer: NodeJS.Timeout | undefined;
  private recovering: Promise<number> | undefined;

  constructor(
    private readonly store: RunCheckpointStore,
    private readonly chains: ChainRepository,
    private readonly interpreter: StepInterpreter,
    private readonly limits: RunLimits,
    private readonly logger: Logger,
    /** With replicas: a run executes on the replica holding its lease. */
    readonly ownership?: RunOwnership,
  ) {
    ownership?.leases.on('lost', (resource) => {
      const runId = ownership.runOf(resource);
      if (runId) this.relinquish(runId);
    });
  }

  /** Another replica may own the run now: stop executing it here without writing; watchers re-attach. */
  private relinquish(runId: string): void {
    const handle = this.handles.get(runId);
    if (!handle || handle.finished) return;
    this.logger.warn({ runId }, 'lost the lease on a run; stopping it here');
    const queued = this.queue.indexOf(handle);
    if (queued >= 0) this.queue.splice(queued, 1);
    handle.detached = true;
    handle.controller.abort(new ElixirError(GrpcCode.UNAVAILABLE, 'RUN_MOVED', 'the run moved to another chain-executor replica'));
    handle.notify();
    if (!handle.executing) this.handles.delete(runId);
  }

  /** The address of the replica executing a run, when it is another one. */
  remoteOwner(runId: string): Promise<string | undefined> {
    if (!this.ownership || (this.handles.has(runId) && !this.handles.get(runId)!.detached)) return Promise.resolve(undefined);
    return this.ownership.remoteOwner(runId);
  }

  /** Looks for unfinished runs nobody holds (their executor died) every `everyMs`, and resumes them here. */
  startTakeover(everyMs: number): void {
    if (!this.ownership || this.takeoverTimer) return;
    this.takeoverTimer = setInterval(() => {
      if (this.stopping || this.recovering) return;
      this.recovering = this.recover()
        .catch((err) => {
          this.logger.warn({ err }, 'takeover scan failed');
          return 0;
        })
        .finally(() => (this.recovering = undefined));
    }, everyMs);
    this.takeoverTimer.unref();
  }

  get activeRuns(): number {
    return this.active;
  }

  get queuedRuns(): number {
    return this.queue.length;
  }

  async start(chainId: string, chainVersion: number, input: unknown, requestId: string): Promise<RunRecord> {
    if (this.stopping) throw errors.unavailable('EXECUTOR_STOPPING', 'the chain executor is shutting down; retry on another replica', 1_000);
    const runId = requestId ? `run-${createHash('sha256').update(`${chainId}\u0000${requestId}`).digest('hex').slice(0, 24)}` : newRunId();
    const live = this.handles.get(runId);
    if (live) return this.started(live);
    if (requestId) {
      const existing = await this.store.getRun(runId);
      if (existing) return existing;
    }
    if (this.active >= this.limits.maxActiveRuns && this.queue.length >= this.limits.maxQueuedRuns) {
      throw errors.resourceExhausted('RUN_QUEUE_FULL', `${this.active} runs are executing and ${this.queue.length} are queued (the limit); retry later`, 1_000, {
        activeRuns: String(this.active),
        queuedRuns: String(this.queue.length),
      });
    }
    const chain = await this.chains.get(chainId, chainVersion);
    const record: RunRecord = {
      id: runId,
      chainId: chain.id,
      chainVersion: chain.version,
      chain,
      status: RunStatus.RUN_STATUS_PENDING,
      input: input ?? null,
      requestId,
      lastSequence: 0,
      createTime: new Date(),
    };
    // A new run id: nobody else can hold it unless the same request raced on two replicas.
    if (this.ownership && !(await this.ownership.acquire(runId))) return { ...record };
    // The same request raced in this process while we awaited: that run is the one.
    const raced = this.handles.get(runId);
    if (raced) return this.started(raced);
    // The run's first checkpoint creates its record (compare-and-set: must not exist) and
    // carries whatever the run recorded by then: it starts executing at once, and StartRun
    // answers once the record is durable. Nothing the run did is seen outside before that.
    const handle = new RunHandle(record, this.store, this.limits.maxStepsInFlightPerRun, [], true);
    this.enqueue(handle);
    try {
      return await this.started(handle);
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
      // Another process created it first (the same request_id): drop ours, which wrote nothing.
      if (this.handles.get(runId) === handle) this.handles.delete(runId);
      const queued = this.queue.indexOf(handle);
      if (queued >= 0) {
        // Never executed, so the pump will not give its lease back: do it here.
        this.queue.splice(queued, 1);
        await this.ownership?.release(runId);
      }
      const existing = await this.store.getRun(runId);
      if (!existing) throw error;
      return existing;
    }
  }

  /** The run as StartRun answers: once its record is durable. */
  private async started(handle: RunHandle): Promise<RunRecord> {
    await handle.created;
    return { ...handle.view };
  }

  async get(runId: string): Promise<Run> {
    const handle = this.handles.get(runId);
    if (handle) return toRunMessage(handle.view, handle.ledger.states.values());
    const record = await this.store.getRun(runId);
    if (!record) throw errors.notFound('run', runId);
    const ledger = new StepLedger();
    for (const e of await this.store.loadEvents(runId, 0)) ledger.apply(e);
    return toRunMessage(record, ledger.states.values());
  }

  async list(filter: RunFilter, pageSize: number, pageToken: string): Promise<{ runs: Run[]; nextPageToken: string }> {
    const page = await this.store.listRuns(filter, pageSize, pageToken);
    // A live run's record in the store may lag its last durable checkpoint's events.
    return { runs: page.runs.map((r) => toRunMessage(this.handles.get(r.id)?.view ?? r)), nextPageToken: page.nextPageToken };
  }

  /** Stops a run's steps (tool calls and agent turns included); a finished run is returned as it is. */
  async cancel(runId: string, reason: string): Promise<Run> {
    const handle = this.handles.get(runId);
    const why = reason || 'cancelled by request';
    if (handle && !handle.finished) {
      const queued = this.queue.indexOf(handle);
      if (queued >= 0) {
        this.queue.splice(queued, 1);
        await this.finish(handle, RunStatus.RUN_STATUS_CANCELLED, { $case: 'runCancelled', runCancelled: { reason: why } });
      } else {
        handle.controller.abort(errors.cancelled(`run cancelled: ${why}`, 'RUN_CANCELLED'));
        await this.waitFinished(handle);
      }
      return this.get(runId);
    }
    const record = handle?.record ?? (await this.store.getRun(runId));
    if (!record) throw errors.notFound('run', runId);
    if (record.status === RunStatus.RUN_STATUS_FAILED || record.status === RunStatus.RUN_STATUS_PAUSED) {
      const closing = handle ?? (await this.load(record));
      await this.finish(closing, RunStatus.RUN_STATUS_CANCELLED, { $case: 'runCancelled', runCancelled: { reason: why } });
    }
    return this.get(runId);
  }

  /** Runs a failed or paused run again from where it stopped: completed steps are not re-run. */
  async resume(runId: string): Promise<Run> {
    if (this.stopping) throw errors.unavailable('EXECUTOR_STOPPING', 'the chain executor is shutting down; retry on another replica', 1_000);
    const live = this.handles.get(runId);
    if (live && !live.finished && !live.executing) return this.get(runId);
    if (live && !live.finished && live.record.status !== RunStatus.RUN_STATUS_PAUSED) return this.get(runId);
    const record = live?.record ?? (await this.store.getRun(runId));
    if (!record) throw errors.notFound('run', runId);
    if (live?.executing && record.status === RunStatus.RUN_STATUS_PAUSED) {
      throw errors.failedPrecondition('APPROVAL_PENDING', `run ${runId} waits for an approval in an agent turn; resolve it with AgentService.ResolveApproval and the run continues by itself`);
    }
    if (record.status !== RunStatus.RUN_STATUS_FAILED && record.status !== RunStatus.RUN_STATUS_PAUSED) {
      throw errors.failedPrecondition('RUN_NOT_RESUMABLE', `run ${runId} is ${RunStatus[record.status]}; only FAILED or PAUSED runs can be resumed`, { status: RunStatus[record.status] });
    }
    if (this.ownership && !(await this.ownership.acquire(runId))) {
      throw errors.unavailable('RUN_OWNED_ELSEWHERE', `run ${runId} is being resumed by another chain-executor replica`, 500);
    }
    const handle = await this.load({ ...record, status: RunStatus.RUN_STATUS_PENDING, error: undefined, failedPath: undefined, pausedFor: undefined, endTime: undefined });
    this.enqueue(handle);
    return this.get(runId);
  }

  /** Streams a run's events after `afterSequence`, live until the run ends (or pauses). */
  async *watch(runId: string, afterSequence: number, signal: AbortSignal): AsyncGenerator<RunEvent> {
    let cursor = afterSequence;
    let handle = this.handles.get(runId);
    if (!handle) {
      const record = await this.store.getRun(runId);
      if (!record) throw errors.notFound('run', runId);
      for (const event of await this.store.loadEvents(runId, cursor)) {
        yield event;
        cursor = event.sequence;
      }
      handle = this.handles.get(runId);
      if (!handle) return;
    }
    for (;;) {
      const changed = handle.changed(signal);
      const events = handle.eventsAfter(cursor);
      for (const event of events) {
        yield event;
        cursor = event.sequence;
      }
      if (signal.aborted) return;
      if (events.length === 0 && handle.finished && cursor >= handle.publishedSequence) return;
      if (events.length === 0 && handle.detached && !handle.executing && !this.stopping) {
        throw errors.unavailable('RUN_MOVED', `run ${runId} continues on another chain-executor replica; watch it again`, 200);
      }
      if (events.length === 0) await changed;
    }
  }

  /** Resumes the runs a previous process left unfinished. */
  async recover(): Promise<number> {
    let count = 0;
    for await (const record of this.store.unfinishedRuns()) {
      if (this.handles.has(record.id) || this.stopping) continue;
      // With replicas: only runs whose lease nobody holds (their executor died, or this is the first start).
      if (this.ownership && !(await this.ownership.acquire(record.id))) continue;
      const handle = await this.load({ ...record, status: RunStatus.RUN_STATUS_PENDING });
      this.enqueue(handle);
      count++;
    }
    if (count > 0) this.logger.info({ runs: count }, 'resuming unfinished runs');
    return count;
  }

  /**
   * Stops taking runs. Running steps get `graceMs` to finish (no new step
   * starts); then they are aborted. Nothing terminal is written: each run
   * stays where its last checkpoint put it, for the next start to resume.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    clearInterval(this.takeoverTimer);
    this.queue.length = 0;
    const live = [...this.handles.values()].filter((h) => !h.finished);
    for (const handle of live) handle.detached = true;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled([...this.running]), grace]);
    clearTimeout(timer);
    for (const handle of live) {
      if (!handle.finished) handle.controller.abort(new ElixirError(GrpcCode.UNAVAILABLE, STOPPING, 'the chain executor is stopping'));
    }
    await Promise.allSettled([...this.running]);
    await this.recovering;
    // Leases go back at once, so another replica resumes these runs without waiting for expiry.
    await this.ownership?.stop();
  }

  private async load(record: RunRecord): Promise<RunHandle> {
    const history = await this.store.loadEvents(record.id, 0);
    const handle = new RunHandle(record, this.store, this.limits.maxStepsInFlightPerRun, history);
    this.handles.set(record.id, handle);
    return handle;
  }

  private enqueue(handle: RunHandle): void {
    this.handles.set(handle.runId, handle);
    this.queue.push(handle);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.limits.maxActiveRuns && this.queue.length > 0) {
      const handle = this.queue.shift()!;
      this.active++;
      // A run outlives the call that started it: it must not inherit that call's deadline.
      const running = runDetached(() => this.execute(handle))
        .catch((error) => {
          handle.detached = true;
          handle.controller.abort(new ElixirError(GrpcCode.UNAVAILABLE, 'CHECKPOINT_FAILED', 'the run could not be checkpointed'));
          if (handle.checkpointFailure === undefined) this.logger.error({ err: error, runId: handle.runId }, 'run stopped by an unexpected error; left for the next start to resume');
        })
        .finally(() => {
          // A checkpoint failed (memory unreachable, lease lost): the run stopped writing; it
          // stays where its last durable checkpoint left it and the next start resumes it.
          const failure = handle.checkpointFailure;
          if (failure instanceof VersionConflictError) {
            // Its create raced the same request elsewhere (start() answers with that run), or another
            // replica appended to its log first: it took the run over; this one stops writing it.
            if (!failure.key.startsWith('runs/')) this.logger.warn({ runId: handle.runId, key: failure.key }, 'another executor appended to this run\'s log; stopped executing it here');
          } else if (failure !== undefined) {
            this.logger.error({ err: failure, runId: handle.runId }, 'run could not record its progress; left for the next start to resume');
          }
          handle.executing = false;
          this.active--;
          this.running.delete(running);
          handle.notify();
          if (this.ownership) {
            void this.ownership.release(handle.runId);
            if (handle.detached && !this.stopping) this.handles.delete(handle.runId);
          }
          this.retire(handle);
          this.pump();
        });
      this.running.add(running);
    }
  }

  private async execute(handle: RunHandle): Promise<void> {
    const record = handle.record;
    handle.executing = true;
    handle.prepareReplay();
    const chain = record.chain;
    // Also emitted when a run resumes (after a restart or ResumeRun): watchers see where it picked up again.
    // Not waited for: nothing outside the run sees it until it is durable (see RunHandle).
    record.status = RunStatus.RUN_STATUS_RUNNING;
    record.startTime ??= new Date();
    handle.emit({ $case: 'runStarted', runStarted: { chainId: record.chainId, chainVersion: record.chainVersion, input: record.input, traceId: activeTraceId() } }, true);
    const started = performance.now();
    try {
      const output = await this.interpreter.run(handle, chain.root!, 'root', record.input, {}, handle.signal);
      record.output = output;
      const ms = performance.now() - started;
      await this.finish(handle, RunStatus.RUN_STATUS_SUCCEEDED, {
        $case: 'runCompleted',
        runCompleted: { output, duration: { seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) } },
      });
    } catch (thrown) {
      if (handle.detached) return;
      const failure = thrown instanceof StepFailure ? thrown : new StepFailure('root', asElixirError(thrown));
      const status = toRpcStatus(failure.error);
      if (failure instanceof StepOutcomeUnknown) {
        record.error = status;
        record.failedPath = failure.path;
        record.pausedFor = 'outcome_unknown';
        await this.finish(handle, RunStatus.RUN_STATUS_PAUSED, { $case: 'runPaused', runPaused: { reason: failure.error.message } });
      } else if (handle.signal.aborted && failure.error.reason === 'RUN_CANCELLED') {
        await this.finish(handle, RunStatus.RUN_STATUS_CANCELLED, { $case: 'runCancelled', runCancelled: { reason: failure.error.message } });
      } else {
        record.error = status;
        record.failedPath = failure.path;
        await this.finish(handle, RunStatus.RUN_STATUS_FAILED, { $case: 'runFailed', runFailed: { error: status, failedPath: failure.path } });
      }
    }
  }

  /** Records the run's end; it is reported finished (status, output) once this is durable. */
  private async finish(handle: RunHandle, status: RunStatus, event: Parameters<RunHandle['emit']>[0]): Promise<void> {
    handle.record.status = status;
    if (status !== RunStatus.RUN_STATUS_PAUSED) handle.record.pausedFor = undefined;
    handle.record.endTime = new Date();
    handle.emit(event, true);
    await handle.durable();
  }

  private async waitFinished(handle: RunHandle): Promise<void> {
    while (!handle.finished && !handle.detached) await handle.changed();
  }

  private retire(handle: RunHandle): void {
    if (!TERMINAL_RUN_STATUSES.has(handle.record.status) && handle.record.status !== RunStatus.RUN_STATUS_PAUSED) return;
    const timer = setTimeout(() => {
      if (this.handles.get(handle.runId) === handle && handle.finished) this.handles.delete(handle.runId);
    }, this.limits.finishedRetentionMs);
    timer.unref();
  }
}
