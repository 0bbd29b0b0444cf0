import type { ThreadEvent } from '@elixirchain/proto/agent';
import { errors } from '@elixirchain/runtime';
import type { EventSubscriber } from './event-subscriber.js';

export type ThreadEventBody = NonNullable<ThreadEvent['event']>;

const RECENT_EVENTS = 2048;

let lastTime = new Date();
let timeFresh = false;
const expireTime = () => {
  timeFresh = false;
};
/**
 * The time of an event: events numbered in the same millisecond share one (never mutated) Date, and so
 * do events numbered in one synchronous stretch (a batch of deltas from the model): the clock is read
 * once per stretch, not once per event.
 */
function eventTime(): Date {
  if (timeFresh) return lastTime;
  const now = Date.now();
  if (now !== lastTime.getTime()) lastTime = new Date(now);
  timeFresh = true;
  queueMicrotask(expireTime);
  return lastTime;
}

/**
 * A thread's event sequence in this process: numbers events, delivers them to
 * subscribers in order, remembers recent ones for re-attachment and holds the
 * not-yet-persisted ones until the next checkpoint takes them. It lives
 * outside the agent actor, so an actor restart does not break client streams.
 */
export class ThreadEventLog {
  nextSequence: number;
  persistedSequence: number;
  private unpersisted: ThreadEvent[] = [];
  private unpersistedBytes = 0;
  /** Events numbered behind a staged one not yet released: they wait, in order (empty almost always). */
  private readonly held: Array<{ event: ThreadEvent; ready: boolean }> = [];
  private readonly recent: ThreadEvent[] = [];
  /** The turn ended while someone still listened: forget the remembered events once nobody does. */
  private compactWhenUnwatched = false;
  readonly subscribers = new Set<EventSubscriber>();
  /** How long a producer waits for one slow subscriber before cutting it loose. */
  slowClientTimeoutMs = 30_000;

  constructor(
    readonly threadId: string,
    lastSequence: number,
  ) {
    this.nextSequence = lastSequence + 1;
    this.persistedSequence = lastSequence;
  }

  get lastSequence(): number {
    return this.nextSequence - 1;
  }

  /**
   * Numbers an event. Streamed events are delivered now; staged ones (step
   * results) wait for release() after their checkpoint is durable, and later
   * events queue behind them so subscribers always see sequence order.
   */
  append(turnId: string, body: ThreadEventBody, mode: 'now' | 'staged' = 'now'): ThreadEvent {
    const event: ThreadEvent = { sequence: this.nextSequence++, threadId: this.threadId, turnId, time: eventTime(), event: body };
    this.unpersisted.push(event);
    this.unpersistedBytes += body.$case === 'textDelta' ? body.textDelta.text.length : 200;
    this.compactWhenUnwatched = false;
    if (mode === 'now' && this.held.length === 0) this.deliver(event);
    else this.held.push({ event, ready: mode === 'now' });
    return event;
  }

  /** Delivers staged events up to sequence, now that they are durable. */
  release(upToSequence: number): void {
    for (const h of this.held) if (h.event.sequence <= upToSequence) h.ready = true;
    this.deliverReady();
  }

  /** Forgets staged events that will never be released (their checkpoint failed). */
  discardStaged(): void {
    for (let i = this.held.length - 1; i >= 0; i--) if (!this.held[i].ready) this.held.splice(i, 1);
    this.deliverReady();
  }

  private deliverReady(): void {
    let n = 0;
    while (n < this.held.length && this.held[n].ready) this.deliver(this.held[n++].event);
    if (n > 0) this.held.splice(0, n);
  }

  private deliver(event: ThreadEvent): void {
    this.recent.push(event);
    // Trimmed in halves, not one event at a time: the log keeps between RECENT_EVENTS and twice that.
    if (this.recent.length > 2 * RECENT_EVENTS) this.recent.splice(0, this.recent.length - RECENT_EVENTS);
    for (const s of this.subscribers) s.push(event);
  }

  get unpersistedCount(): number {
    return this.unpersisted.length;
  }

  get unpersistedSize(): number {
    return this.unpersistedBytes;
  }

  /** Hands the events not yet written to a checkpoint. */
  takeUnpersisted(): ThreadEvent[] {
    const events = this.unpersisted;
    this.unpersisted = [];
    this.unpersistedBytes = 0;
    return events;
  }

  /** Puts events back after a failed write, so a later checkpoint still carries them. */
  restoreUnpersisted(events: ThreadEvent[]): void {
    this.unpersisted = [...events, ...this.unpersisted];
    this.unpersistedBytes += events.reduce((n, e) => n + (e.event?.$case === 'textDelta' ? e.event.textDelta.text.length : 200), 0);
  }

  markPersisted(sequence: number): void {
    if (sequence > this.persistedSequence) this.persistedSequence = sequence;
  }

  /** Delivered events after afterSequence, if this process still remembers all of them. */
  replayFromMemory(afterSequence: number): ThreadEvent[] | undefined {
    const first = this.recent[0]?.sequence;
    if (first === undefined) return afterSequence >= this.lastDeliveredSequence() ? [] : undefined;
    if (first > afterSequence + 1 && afterSequence < this.lastDeliveredSequence()) {
      // Older than we keep; sequences may have gaps after a restart, so check what storage has.
      return undefined;
    }
    return this.recent.filter((e) => e.sequence > afterSequence);
  }

  lastDeliveredSequence(): number {
    return this.recent[this.recent.length - 1]?.sequence ?? this.persistedSequence;
  }

  /**
   * Between turns: forget remembered events (storage has them all) to keep
   * idle threads small — now if nobody listens, else once the last listener leaves.
   */
  compact(): void {
    this.compactWhenUnwatched = true;
    this.compactIfUnwatched();
  }

  private compactIfUnwatched(): void {
    if (this.compactWhenUnwatched && this.subscribers.size === 0 && this.held.length === 0 && this.unpersisted.length === 0) this.recent.length = 0;
  }

  subscribe(subscriber: EventSubscriber): void {
    this.subscribers.add(subscriber);
    const previous = subscriber.onClose;
    subscriber.onClose = () => {
      this.subscribers.delete(subscriber);
      this.compactIfUnwatched();
      previous?.();
    };
  }

  /**
   * Waits while a subscriber is over its high-water mark; one that stays stuck
   * is disconnected. Returns undefined (no promise, no await) in the common case.
   */
  waitForRoom(): Promise<void> | undefined {
    for (const s of this.subscribers) if (s.overHighWater) return this.waitForSlowSubscribers();
    return undefined;
  }

  private async waitForSlowSubscribers(): Promise<void> {
    for (const s of this.subscribers) {
      if (!s.overHighWater) continue;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        s.drained().then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.slowClientTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) s.close(errors.resourceExhausted('CLIENT_TOO_SLOW', 'the client did not read the stream; re-attach with WatchThread', 1000));
    }
  }
}
