import { randomBytes } from 'node:crypto';
import { connectRedis, rootLogger, type Logger, type RedisConnection } from '@elixirchain/runtime';
import type { CachedStore } from './cached-store.js';

interface InvalidationMessage {
  from: string;
  groups: string[];
}

/**
 * Keeps the read caches of several memory replicas honest: every write's
 * cache groups are published on one Redis channel (coalesced per event-loop
 * turn), and every other replica drops them from its cache. A read that was
 * in flight when the message arrives does not fill the cache. Delivery is
 * asynchronous, so another replica may serve what it cached for the time a
 * message takes (about a millisecond on a LAN); writes are never affected
 * (compare-and-set runs in the database). After a lost connection the
 * whole cache is dropped, since messages may have been missed.
 */
export class RedisCacheInvalidation {
  private readonly replica = randomBytes(6).toString('hex');
  private pending = new Set<string>();
  private flushScheduled = false;
  private connectedOnce = false;

  private constructor(
    private readonly cache: CachedStore,
    private readonly publisher: RedisConnection,
    private readonly subscriber: RedisConnection,
    private readonly channel: string,
    private readonly log: Logger,
  ) {}

  static async attach(cache: CachedStore, redisUrl: string, keyPrefix = 'elixirchain:', log: Logger = rootLogger.child({ component: 'cache-invalidation' })): Promise<RedisCacheInvalidation> {
    const publisher = await connectRedis(redisUrl, log);
    const subscriber = publisher.duplicate();
    subscriber.on('error', () => {
      // connectRedis logs the publisher's errors; both connections fail together.
    });
    const self = new RedisCacheInvalidation(cache, publisher, subscriber, `${keyPrefix}memory-cache-invalidate`, log);
    subscriber.on('ready', () => {
      // Reconnected: messages sent meanwhile are lost, so nothing cached can be trusted.
      if (self.connectedOnce) cache.invalidateAll();
      self.connectedOnce = true;
    });
    await subscriber.connect();
    await subscriber.subscribe(self.channel, (message) => self.receive(message));
    cache.onWrite = (groups) => self.written(groups);
    return self;
  }

  private receive(message: string): void {
    try {
      const parsed = JSON.parse(message) as InvalidationMessage;
      if (parsed.from === this.replica || !Array.isArray(parsed.groups)) return;
      this.cache.invalidateGroups(parsed.groups);
    } catch {
      this.log.warn('ignored a malformed cache invalidation message');
    }
  }

  private written(groups: string[]): void {
    for (const g of groups) this.pending.add(g);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const message: InvalidationMessage = { from: this.replica, groups: [...this.pending] };
      this.pending = new Set();
      this.publisher.publish(this.channel, JSON.stringify(message)).catch((err: Error) => {
        // The other replicas may keep stale entries until their ttl-free LRU evicts them: say so loudly.
        this.log.error({ err: { message: err.message } }, 'could not publish a cache invalidation');
      });
    });
  }

  async close(): Promise<void> {
    this.cache.onWrite = undefined;
    await Promise.allSettled([this.subscriber.close(), this.publisher.close()]);
  }
}
