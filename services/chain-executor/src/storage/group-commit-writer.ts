import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ElixirError, GrpcCode } from '@elixirchain/runtime';
import type { StateStore, StateWrite } from './state-store.js';
import { timePrefix } from './time-ordered-id.js';

/**
 * How long a batch waits out memory being unreachable: a killed memory
 * service is back within seconds (8–13 s on a loaded machine), and runs
 * should ride that out rather than stop until the next start resumes them.
 */
export const MEMORY_OUTAGE_BUDGET_MS = 60_000;

/** Writes, or a function building them when the batch is assembled (so callers can keep merging until then). */
export type PendingWrites = StateWrite[] | (() => StateWrite[]);

/**
 * A batch's request id: memory records one row per compare-and-set under it (its replay
 * record), keyed by this id, so ids that grow with time append to that table's index instead
 * of dirtying a random page of it per batch.
 */
const batchRequestId = () => `${timePrefix()}-${randomUUID()}`;

/** The smallest cohort worth a batch of its own when a large batch's callers are split in two (see release()). */
const MIN_COHORT = 8;

interface Pending {
  writes: PendingWrites;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: writes asked for while batches are in flight go out together
 * in the next one, so many runs checkpointing at once cost one BatchWrite
 * round trip, not one each. Up to `maxBatchesInFlight` batches are sent at
 * once (the next one fills while the previous is still being committed);
 * callers that need their writes ordered keep one write in flight at a time
 * (a run does: see RunHandle). Each caller's promise resolves only once its
 * writes are durable. While memory answers UNAVAILABLE a batch is retried,
 * up to the outage budget, with the same request_id: memory replays the
 * outcome of a batch that committed before its reply was lost, so its
 * compare-and-sets (a run's create, its event rows) do not conflict with
 * themselves, and its unconditional puts apply again harmlessly.
 */
export class GroupCommitWriter {
  private queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Batches sent and writes carried, for the benchmark's report. */
  batchesSent = 0;
  writesSent = 0;
  /** Total wall time spent waiting for BatchWrite calls, ms. */
  batchMs = 0;

  constructor(
    private readonly store: StateStore,
    private readonly maxWritesPerBatch = 2_000,
    private readonly outageBudgetMs = MEMORY_OUTAGE_BUDGET_MS,
    private readonly maxBatchesInFlight = 2,
  ) {}

  write(writes: PendingWrites): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ writes, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Sends the next batch after the current turn of the event loop: every
   * checkpoint asked for in this turn joins it, and so do the callers a
   * finished batch just released, once they ran their next steps — instead
   * of a half-empty batch that makes them wait a whole round trip.
   */
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.maxBatchesInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.sendBatch();
    });
  }

  private async sendBatch(): Promise<void> {
    if (this.queue.length === 0 || this.inFlight >= this.maxBatchesInFlight) return;
    const batch: Array<Pending & { built: StateWrite[] }> = [];
    const writes: StateWrite[] = [];
    while (this.queue.length > 0 && (batch.length === 0 || writes.length < this.maxWritesPerBatch)) {
      const next = this.queue.shift()!;
      let built: StateWrite[];
      try {
        built = typeof next.writes === 'function' ? next.writes() : next.writes;
      } catch (error) {
        next.reject(error);
        continue;
      }
      batch.push({ ...next, built });
      for (const w of built) writes.push(w);
    }
    this.inFlight++;
    let durable = false;
    try {
      this.batchesSent++;
      this.writesSent += writes.length;
      const started = performance.now();
      await this.sendThroughOutage(writes, batchRequestId());
      this.batchMs += performance.now() - started;
      durable = true;
    } catch (error) {
      // One caller's conflicting write must not fail the others: retry them alone.
      if (batch.length === 1) batch[0]!.reject(error);
      else await Promise.all(batch.map((p) => this.sendThroughOutage(p.built, batchRequestId()).then(p.resolve, p.reject)));
    } finally {
      this.inFlight--;
    }
    if (durable) {
      // What other callers queued while this batch was in flight (another cohort of runs, whose
      // turn of the event loop is over) goes out now, before this batch's callers run and queue
      // theirs: the two cohorts stay in separate batches, so one computes while the other's
      // batch is in flight, instead of merging into one that both wait for.
      const alone = this.inFlight === 0 && this.queue.length === 0;
      if (this.queue.length > 0) void this.sendBatch();
      this.release(batch, alone);
    }
    this.schedule();
  }

  /**
   * Resolves a durable batch's callers. When no other batch is in flight and
   * the batch is large, only the first half is released now; the rest only
   * once the next batch — the first half's follow-up checkpoints, which they
   * compute in the microtasks of this turn — has been sent. Otherwise every
   * caller released by one reply computes together and then waits together
   * for one round trip, so the executor's compute and memory's round trip
   * take turns and the second slot stays idle; split, one half computes
   * while the other half's batch is in flight, and the halves keep
   * alternating on their own (each reply releases its own cohort). Only
   * when callers learn their writes are durable changes, never what is.
   */
  private release(batch: Pending[], alone: boolean): void {
    const split = alone && this.maxBatchesInFlight > 1 && batch.length >= 2 * MIN_COHORT;
    const now = split ? batch.slice(0, batch.length >> 1) : batch;
    for (const p of now) p.resolve();
    if (!split) return;
    const rest = batch.slice(batch.length >> 1);
    setImmediate(() => {
      // Send what the first half queued before the second half runs (the scheduled send, if
      // any, then finds the queue taken and does nothing).
      if (this.queue.length > 0 && this.inFlight < this.maxBatchesInFlight) void this.sendBatch();
      for (const p of rest) p.resolve();
    });
  }

  /** Retries through UNAVAILABLE with the same request id: a batch that committed before its reply was lost answers the same again. */
  private async sendThroughOutage(writes: StateWrite[], requestId: string): Promise<void> {
    const giveUpAt = Date.now() + this.outageBudgetMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.store.batch(writes, requestId);
        return;
      } catch (error) {
        const backoff = Math.min(2000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random());
        if (!ElixirError.is(error, GrpcCode.UNAVAILABLE) || Date.now() + backoff >= giveUpAt) throw error;
        await sleep(backoff);
      }
    }
  }
}
