import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, until } from '@elixirchain/runtime';
import { CachedStore } from '../../src/cache/cached-store.js';
import { RedisCacheInvalidation } from '../../src/cache/redis-cache-invalidation.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const REDIS_URL = process.env.ELIXIRCHAIN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const value = (n: number) => ({ $case: 'structValue' as const, structValue: { n } });

// Two memory replicas over one database, each with its own read cache: a write on one
// must not leave the other serving what it cached before.
describe('cache invalidation across memory replicas through Redis pub/sub', function () {
  this.timeout(20_000);
  let dir: string;
  let backend: SqliteStore;
  const attached: RedisCacheInvalidation[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cache-invalidation-'));
    backend = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0 });
  });
  after(async () => {
    await Promise.all(attached.map((a) => a.close()));
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a write through one replica drops the entry the other replica cached; a replica without it stays stale', async () => {
    const prefix = `test-cache-${randomBytes(4).toString('hex')}:`;
    const a = new CachedStore(backend);
    const b = new CachedStore(backend);
    const unlinked = new CachedStore(backend);
    attached.push(await RedisCacheInvalidation.attach(a, REDIS_URL, prefix), await RedisCacheInvalidation.attach(b, REDIS_URL, prefix));
    await b.putState({ key: 'k', value: value(1) });
    assert.equal((await a.getState('k')).version, 1);
    assert.equal((await unlinked.getState('k')).version, 1);
    await b.putState({ key: 'k', value: value(2), expectedVersion: 1 });
    await until('replica a to serve version 2', async () => (await a.getState('k')).version === 2, 5_000);
    assert.deepEqual((await a.getState('k')).value, value(2));
    // The control: a cache that hears nothing keeps serving what it read first.
    assert.equal((await unlinked.getState('k')).version, 1);
    const redis = await connectRedis(REDIS_URL);
    assert.equal((await redis.keys(`${prefix}*`)).length, 0, 'pub/sub leaves no keys behind');
    await redis.close();
  });
});
