import type { ThreadEvent } from '@elixirchain/proto/agent';

export interface EventSubscriberOptions {
  /**
   * Only this turn's events are delivered, and the stream ends after its turn_completed
   * (what SendMessage streams; the same as a filter and endAfter, without a closure per turn).
   */
  turnId?: string;
  /** Only events for which this holds are delivered. */
  filter?: (event: ThreadEvent) => boolean;
  /** The stream ends after delivering an event for which this holds. */
  endAfter?: (event: ThreadEvent) => boolean;
  /** Above this many buffered bytes the producer waits (backpressure reaches the model stream). */
  highWaterBytes?: number;
  /** Events waiting to be sent before the client counts as lagging and deltas start to merge. */
  lagEvents?: number;
}

const sizeOf = (event: ThreadEvent) => (event.event?.$case === 'textDelta' ? 64 + event.event.textDelta.text.length * 2 : 256);

/**
 * One client's view of a thread's events, bounded: while the client keeps up
 * each event is sent as it comes; while a write is pending, consecutive text
 * deltas of a turn merge into one (never dropped; the merged event carries the
 * last sequence, so re-attaching after it is exact).
 *
 * The client lags when lagEvents wait and some of them have waited through a
 * whole turn of the event loop: it had its chance to read them and did not
 * (a pending network write). A burst pushed faster than that (a model handing
 * over many deltas at once) is not lag: a client that keeps up gets every
 * delta as its own event, and the high-water mark still bounds the buffer.
 */
export class EventSubscriber {
  private queue: ThreadEvent[] = [];
  private bufferedBytes = 0;
  /** Bytes of the last batch nextBatch() handed over: they count against the high-water mark until the reader asks again. */
  private handedBytes = 0;
  private wake: (() => void) | undefined;
  private drainWaiters: Array<() => void> = [];
  private closed = false;
  /** Some queued events have waited through a turn of the event loop (set by the immediate a backlog schedules). */
  private backlogAged = false;
  /**
   * The immediate that ages the current backlog. Cancelled when the queue
   * empties or the subscriber closes: a pending immediate holds the
   * subscriber (and through onClose its thread's event log) until the event
   * loop reaches its check phase, which a turn that runs wholly in promises
   * (in-process fakes, a zero-latency model) does not, so every finished
   * turn's subscriber stayed on the heap until then.
   */
  private aging: NodeJS.Immediate | undefined;
  private readonly age = () => {
    this.aging = undefined;
    if (this.queue.length > 0) this.backlogAged = true;
  };
  private endedAfterLast = false;
  private failure: unknown;
  /** Largest buffer this subscriber ever held, for tests and metrics. */
  maxBufferedBytes = 0;
  delivered = 0;
  coalesced = 0;
  readonly highWaterBytes: number;
  private readonly lagEvents: number;
  /** The turn whose events this subscriber delivers (options.turnId); a retried request re-points it at the turn it re-attaches to. */
  turnId: string | undefined;
  onClose: (() => void) | undefined;

  constructor(private readonly options: EventSubscriberOptions = {}) {
    this.highWaterBytes = options.highWaterBytes ?? 1 << 20;
    this.lagEvents = options.lagEvents ?? 8;
    this.turnId = options.turnId;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get overHighWater(): boolean {
    return !this.closed && this.bufferedBytes + this.handedBytes > this.highWaterBytes;
  }

  push(event: ThreadEvent): void {
    if (this.closed || this.endedAfterLast) return;
    if (!this.accepts(event)) return;
    const last = this.queue[this.queue.length - 1];
    if (this.backlogAged && this.queue.length >= this.lagEvents && last && last.event?.$case === 'textDelta' && event.event?.$case === 'textDelta' && last.turnId === event.turnId) {
      // The client is behind (an event is already waiting): merge instead of queueing another.
      const text = last.event.textDelta.text + event.event.textDelta.text;
      this.queue[this.queue.length - 1] = { ...event, event: { $case: 'textDelta', textDelta: { text } } };
      this.coalesced += 1;
    } else {
      this.queue.push(event);
    }
    this.bufferedBytes += sizeOf(event);
    if (this.bufferedBytes > this.maxBufferedBytes) this.maxBufferedBytes = this.bufferedBytes;
    if (this.endsStream(event)) this.endedAfterLast = true;
    if (!this.aging && !this.backlogAged && this.queue.length >= this.lagEvents) this.aging = setImmediate(this.age);
    this.wakeReader();
  }

  /** Puts replayed (older) events ahead of live ones, dropping live duplicates of them. */
  prepend(events: ThreadEvent[]): void {
    if (events.length === 0) return;
    const last = events[events.length - 1].sequence;
    const live = this.queue.filter((e) => e.sequence > last);
    this.queue.length = 0;
    for (const e of events) {
      if (!this.accepts(e)) continue;
      this.queue.push(e);
      if (this.endsStream(e)) {
        this.endedAfterLast = true;
        break;
      }
    }
    if (!this.endedAfterLast) this.queue.push(...live);
    this.bufferedBytes = this.queue.reduce((n, e) => n + sizeOf(e), 0);
    this.wakeReader();
  }

  private accepts(event: ThreadEvent): boolean {
    if (this.turnId !== undefined && event.turnId !== this.turnId) return false;
    return this.options.filter?.(event) ?? true;
  }

  private endsStream(event: ThreadEvent): boolean {
    if (this.turnId !== undefined && event.event?.$case === 'turnCompleted') return true;
    return this.options.endAfter?.(event) ?? false;
  }

  /** Ends the stream once what is queued has been sent. */
  finishAfterQueued(): void {
    this.endedAfterLast = true;
    this.wakeReader();
  }

  /** The next queued event, if one is waiting (no promise, no await). */
  take(): ThreadEvent | undefined {
    this.handedBytes = 0;
    const event = this.queue.shift();
    if (event) {
      this.bufferedBytes = this.queue.length === 0 ? 0 : Math.max(0, this.bufferedBytes - sizeOf(event));
      this.delivered += 1;
      if (this.queue.length === 0) this.backlogDrained();
      if (this.drainWaiters.length > 0 && !this.overHighWater) this.releaseDrainWaiters();
    }
    return event;
  }

  /** The next event to send, or undefined when the stream is over. Throws the error it was closed with. */
  async next(): Promise<ThreadEvent | undefined> {
    for (;;) {
      const event = this.take();
      if (event) return event;
      this.releaseDrainWaiters();
      if (this.failure) throw this.failure;
      if (this.closed || this.endedAfterLast) return undefined;
      // wakeReader() resolves this and clears it.
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /**
   * Everything queued, in order, in one array (one promise per batch instead
   * of one per event), or undefined when the stream is over. Throws the error
   * it was closed with. The batch's bytes still count against the high-water
   * mark until the reader calls again (it has sent them by then), so handing
   * over a batch never lets the producer buffer more than one event past it.
   */
  async nextBatch(): Promise<ThreadEvent[] | undefined> {
    for (;;) {
      this.handedBytes = 0;
      if (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        this.handedBytes = this.bufferedBytes;
        this.bufferedBytes = 0;
        this.delivered += batch.length;
        this.backlogDrained();
        if (this.drainWaiters.length > 0 && !this.overHighWater) this.releaseDrainWaiters();
        return batch;
      }
      this.releaseDrainWaiters();
      if (this.failure) throw this.failure;
      if (this.closed || this.endedAfterLast) return undefined;
      // wakeReader() resolves this and clears it.
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Resolves once the buffer is below the high-water mark (or the subscriber is gone). */
  drained(): Promise<void> {
    if (!this.overHighWater) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  close(error?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.backlogDrained();
    if (error) {
      this.failure = error;
      this.queue.length = 0;
    }
    this.releaseDrainWaiters();
    this.wakeReader();
    this.onClose?.();
  }

  /** Resumes a reader waiting for events, once: later pushes before it runs need not call a settled resolve again. */
  private wakeReader(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = undefined;
      wake();
    }
  }

  /** Nothing queued waits any more: the next backlog ages from its own start. */
  private backlogDrained(): void {
    this.backlogAged = false;
    if (this.aging) {
      clearImmediate(this.aging);
      this.aging = undefined;
    }
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
