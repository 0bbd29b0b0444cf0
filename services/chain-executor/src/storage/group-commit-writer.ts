import type { StateStore, StateWrite } from './state-store.js';

interface Pending {
  writes: StateWrite[];
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

  constructor(private readonly store: StateStore, private readonly maxWritesPerBatch = 2_000) {}

  write(writes: StateWrite[]): Promise<void> {
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
      const batch: Pending[] = [];
      const writes: StateWrite[] = [];
      while (this.queue.length > 0 && (batch.length === 0 || writes.length + this.queue[0]!.writes.length <= this.maxWritesPerBatch)) {
        const next = this.queue.shift()!;
        batch.push(next);
        for (const w of next.writes) writes.push(w);
      }
      try {
        this.batchesSent++;
        this.writesSent += writes.length;
        await this.store.batch(writes);
        for (const p of batch) p.resolve();
      } catch (error) {
        // One caller's conflicting write must not fail the others: retry them alone.
        if (batch.length === 1) batch[0]!.reject(error);
        else await Promise.all(batch.map((p) => this.store.batch(p.writes).then(p.resolve, p.reject)));
      }
    }
    this.flushing = false;
  }
}
