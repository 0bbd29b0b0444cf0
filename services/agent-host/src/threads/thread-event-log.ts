import type { ThreadEvent } from '@elixirchain/proto/agent';
import { errors } from '@elixirchain/runtime';
import type { EventSubscriber } from './event-subscriber.js';

export type ThreadEventBody = NonNullable<ThreadEvent['event']>;

const RECENT_EVENTS = 2048;

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
  private readonly pending: Array<{ event: ThreadEvent; ready: boolean }> = [];
  private readonly recent: ThreadEvent[] = [];
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
    const event: ThreadEvent = { sequence: this.nextSequence++, threadId: this.threadId, turnId, time: new Date(), event: body };
    this.unpersisted.push(event);
    this.unpersistedBytes += body.$case === 'textDelta' ? body.textDelta.text.length : 200;
    this.pending.push({ event, ready: mode === 'now' });
    this.drain();
    return event;
  }

  /** Delivers staged events up to sequence, now that they are durable. */
  release(upToSequence: number): void {
    for (const p of this.pending) if (p.event.sequence <= upToSequence) p.ready = true;
    this.drain();
  }

  /** Forgets staged events that will never be released (their checkpoint failed). */
  discardStaged(): void {
    for (let i = this.pending.length - 1; i >= 0; i--) if (!this.pending[i].ready) this.pending.splice(i, 1);
    this.drain();
  }

  private drain(): void {
    while (this.pending.length > 0 && this.pending[0].ready) {
      const { event } = this.pending.shift()!;
      this.recent.push(event);
      if (this.recent.length > RECENT_EVENTS) this.recent.splice(0, this.recent.length - RECENT_EVENTS);
      for (const s of this.subscribers) s.push(event);
    }
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

  /** Between turns with nobody listening: forget remembered events (storage has them) to keep idle threads small. */
  compact(): void {
    if (this.subscribers.size === 0 && this.pending.length === 0) this.recent.length = 0;
  }

  subscribe(subscriber: EventSubscriber): void {
    this.subscribers.add(subscriber);
    const previous = subscriber.onClose;
    subscriber.onClose = () => {
      this.subscribers.delete(subscriber);
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
