import { setTimeout as sleep } from 'node:timers/promises';
import { ElixirError, GrpcCode } from '@elixirchain/runtime';
import type { StateStore, StateWrite } from './state-store.js';

/**
 * How long a batch waits out memory being unreachable: a killed memory
 * service is back within seconds (8–13 s on a loaded machine), and runs
 * should ride that out rather than stop until the next start resumes them.
 */
export const MEMORY_OUTAGE_BUDGET_MS = 60_000;

/** Writes, or a function building them when the batch is assembled (so callers can keep merging until then). */
export type PendingWrites = StateWrite[] | (() => StateWrite[]);

interface Pending {
  writes: PendingWrites;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: writes asked for while a batch is in flight go out together
 * in the next one, so many runs checkpointing at once cost one BatchWrite
 * round trip, not one each. Each caller's promise resolves only once its
 * writes are durable; batches are sent one after another, so writes keep
 * their order. While memory answers UNAVAILABLE a batch is retried, up to
 * the outage budget: run checkpoints are unconditional puts of the same
 * values, so a batch that committed before its reply was lost applies
 * again harmlessly.
 */
export class GroupCommitWriter {
  private queue: Pending[] = [];
  private flushing = false;
  /** Batches sent and writes carried, for the benchmark's report. */
  batchesSent = 0;
  writesSent = 0;
  /** Total wall time spent waiting for BatchWrite calls, ms. */
  batchMs = 0;

  constructor(
    private readonly store: StateStore,
    private readonly maxWritesPerBatch = 2_000,
    private readonly outageBudgetMs = MEMORY_OUTAGE_BUDGET_MS,
  ) {}

  write(writes: PendingWrites): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ writes, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Let the current tick's other checkpoints join this batch.
        queueMicrotask(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch: Array<Pending & { built: StateWrite[] }> = [];
      const writes: StateWrite[] = [];
      while (this.queue.length > 0 && (batch.length === 0 || writes.length < this.maxWritesPerBatch)) {
        const next = this.queue.shift()!;
        const built = typeof next.writes === 'function' ? next.writes() : next.writes;
        batch.push({ ...next, built });
        for (const w of built) writes.push(w);
      }
      try {
        this.batchesSent++;
        this.writesSent += writes.length;
        const started = performance.now();
        await this.sendThroughOutage(writes);
        this.batchMs += performance.now() - started;
        for (const p of batch) p.resolve();
      } catch (error) {
        // One caller's conflicting write must not fail the others: retry them alone.
        if (batch.length === 1) batch[0]!.reject(error);
        else await Promise.all(batch.map((p) => this.sendThroughOutage(p.built).then(p.resolve, p.reject)));
      }
      // Let the callers just released run their next step and join the next batch,
      // instead of sending a half-empty one and making them wait a whole round trip.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.flushing = false;
  }

  private async sendThroughOutage(writes: StateWrite[]): Promise<void> {
    const giveUpAt = Date.now() + this.outageBudgetMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.store.batch(writes);
        return;
      } catch (error) {
        const backoff = Math.min(2000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random());
        if (!ElixirError.is(error, GrpcCode.UNAVAILABLE) || Date.now() + backoff >= giveUpAt) throw error;
        await sleep(backoff);
      }
    }
  }
}
