import type { StateStore, StateWrite } from './state-store.js';

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
 * their order.
 */
export class GroupCommitWriter {
  private queue: Pending[] = [];
  private flushing = false;
  /** Batches sent and writes carried, for the benchmark's report. */
  batchesSent = 0;
  writesSent = 0;
  /** Total wall time spent waiting for BatchWrite calls, ms. */
  batchMs = 0;

  constructor(private readonly store: StateStore, private readonly maxWritesPerBatch = 2_000) {}

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
        await this.store.batch(writes);
        this.batchMs += performance.now() - started;
        for (const p of batch) p.resolve();
      } catch (error) {
        // One caller's conflicting write must not fail the others: retry them alone.
        if (batch.length === 1) batch[0]!.reject(error);
        else await Promise.all(batch.map((p) => this.store.batch(p.built).then(p.resolve, p.reject)));
      }
      // Let the callers just released run their next step and join the next batch,
      // instead of sending a half-empty one and making them wait a whole round trip.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.flushing = false;
  }
}
