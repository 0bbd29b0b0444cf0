/**
 * A counting semaphore with a synchronous fast path: acquiring a free slot
 * costs no promise, which matters at tens of thousands of steps per second.
 * Waiters are served in FIFO order — demand, not arrival, moves work.
 */
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiters: Array<{ resolve: () => void; reject: (reason: unknown) => void; signal?: AbortSignal; onAbort?: () => void }> = [];
  /** The most slots ever held at once (observed, for tests and metrics). */
  highWater = 0;

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`limit must be at least 1, got ${limit}`);
  }

  get inFlight(): number {
    return this.active;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  tryAcquire(): boolean {
    if (this.active >= this.limit) return false;
    this.active++;
    if (this.active > this.highWater) this.highWater = this.active;
    return true;
  }

  /** Resolves when a slot is held; rejects with the signal's reason if it aborts first. */
  acquire(signal?: AbortSignal): Promise<void> | undefined {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.tryAcquire()) return undefined;
    return new Promise<void>((resolve, reject) => {
      const waiter: (typeof this.waiters)[number] = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) {
      if (next.onAbort) next.signal!.removeEventListener('abort', next.onAbort);
      next.resolve();
      return;
    }
    this.active--;
  }
}
