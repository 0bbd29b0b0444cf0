/**
 * A single-consumer async queue: producers push from callbacks, the consumer
 * iterates. Used to turn a call's worker callbacks into an event stream.
 */
export class EventChannel<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private readonly sizes: number[] = [];
  /** Approximate bytes waiting for the consumer. */
  backlogBytes = 0;
  private waiting: ((result: IteratorResult<T>) => void) | undefined;
  private closed = false;
  private readonly onReturn: () => void;

  constructor(onReturn: () => void = () => undefined) {
    this.onReturn = onReturn;
  }

  push(item: T, size = 0): void {
    if (this.closed) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: item, done: false });
    } else {
      this.buffer.push(item);
      this.sizes.push(size);
      this.backlogBytes += size;
    }
  }

  /** The newest item still waiting, if any: a producer may fold a new item into it. */
  get lastWaiting(): T | undefined {
    return this.buffer[this.buffer.length - 1];
  }

  /** Replaces the newest waiting item (same position), e.g. a newer progress for an older one. */
  replaceLast(item: T, size: number): void {
    if (this.buffer.length === 0) return;
    this.backlogBytes += size - this.sizes[this.sizes.length - 1]!;
    this.buffer[this.buffer.length - 1] = item;
    this.sizes[this.sizes.length - 1] = size;
  }

  close(): void {
    this.closed = true;
    if (this.waiting && this.buffer.length === 0) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: undefined, done: true });
    }
  }

  get size(): number {
    return this.buffer.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.buffer.length > 0) {
          this.backlogBytes -= this.sizes.shift()!;
          return Promise.resolve({ value: this.buffer.shift()!, done: false });
        }
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiting = resolve));
      },
      // The consumer stopped early (break, cancelled stream): stop the producer.
      return: () => {
        this.closed = true;
        this.buffer.length = 0;
        this.sizes.length = 0;
        this.backlogBytes = 0;
        this.onReturn();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
