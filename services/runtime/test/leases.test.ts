import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { advertisedAddress, connectRedis, LeaseManager, RedisLeaseStore, scaleOutConfigFromEnv, type RedisConnection } from '../src/index.js';

// Real Redis (127.0.0.1:6379 unless ELIXIRCHAIN_TEST_REDIS_URL); every test run uses its own key prefix and deletes it.
const REDIS_URL = process.env.ELIXIRCHAIN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('leases over Redis (RedisLeaseStore, LeaseManager)', () => {
  let redis: RedisConnection;
  let prefix: string;
  let store: RedisLeaseStore;
  const managers: LeaseManager[] = [];
  const manager = (holder: string, ttlMs = 300) => {
    const m = new LeaseManager({ store, holder, ttlMs, data: { address: `${holder}:1` } });
    managers.push(m);
    return m;
  };

  before(async () => {
    redis = await connectRedis(REDIS_URL);
  });
  beforeEach(() => {
    prefix = `test-leases-${randomBytes(4).toString('hex')}:`;
    store = new RedisLeaseStore(redis, prefix);
  });
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(keys);
  });
  after(async () => {
    await redis.close();
  });

  it('gives a resource to one holder at a time and tells the others who holds it', async () => {
    const a = manager('a');
    const b = manager('b');
    const results = await Promise.all([a.acquire('agent/x'), b.acquire('agent/x')]);
    assert.equal(results.filter((r) => r.acquired).length, 1);
    const loser = results.find((r) => !r.acquired)!;
    const winner = results.find((r) => r.acquired)!;
    assert.ok(!loser.acquired && winner.acquired);
    assert.equal(loser.owner?.holder, winner.lease.holder);
    assert.equal(loser.owner?.data.address, `${winner.lease.holder}:1`);
    const [holder] = await store.holders(['agent/x']);
    assert.equal(holder?.token, winner.lease.token);
  });

  it('keeps a renewed lease past its ttl, and hands an expired one over with a larger fencing token', async () => {
    const a = manager('a', 300);
    const first = await a.acquire('agent/x');
    assert.ok(first.acquired);
    await sleep(700);
    assert.ok(a.valid('agent/x'), 'renewed in the background');
    const b = manager('b', 300);
    assert.equal((await b.acquire('agent/x')).acquired, false);
    // A holder that stops renewing (dead, paused) loses it after the ttl; the next holder gets a larger token.
    const raw = await store.acquire('agent/y', 'dead', 300, {});
    assert.ok(raw.acquired);
    assert.equal((await b.acquire('agent/y')).acquired, false);
    await sleep(450);
    const second = await b.acquire('agent/y');
    assert.ok(second.acquired);
    assert.ok(second.lease.token > raw.lease.token, `${second.lease.token} > ${raw.lease.token}`);
    await a.release('agent/x');
    const third = await b.acquire('agent/x');
    assert.ok(third.acquired && third.lease.token > first.lease.token);
  });

  it('reports a lease lost when someone else took it, and after a pause longer than the ttl without asking', async () => {
    const a = manager('a', 300);
    const lost: string[] = [];
    a.on('lost', (resource) => lost.push(resource));
    const got = await a.acquire('agent/x');
    assert.ok(got.acquired);
    // Someone else took it (e.g. after it expired while we were partitioned).
    await redis.del(`${prefix}lease:agent/x`);
    assert.ok((await manager('b', 300).acquire('agent/x')).acquired);
    await a.renewAll();
    assert.deepEqual(lost, ['agent/x']);
    assert.equal(a.valid('agent/x'), undefined);

    const c = manager('c', 200);
    const lostByC: string[] = [];
    c.on('lost', (resource) => lostByC.push(resource));
    assert.ok((await c.acquire('agent/y')).acquired);
    // Block the event loop past the ttl: no renewal ran, so the lease is gone by our own clock.
    const until = Date.now() + 300;
    while (Date.now() < until) {
      /* paused */
    }
    assert.equal(c.valid('agent/y'), undefined);
    assert.deepEqual(lostByC, ['agent/y']);
  });

  it('releases only its own lease', async () => {
    const a = manager('a', 5000);
    const got = await a.acquire('agent/x');
    assert.ok(got.acquired);
    assert.equal(await store.release({ ...got.lease, stamp: 'not-ours' }), false);
    await a.release('agent/x');
    const [holder] = await store.holders(['agent/x']);
    assert.equal(holder, undefined);
    assert.ok((await manager('b', 5000).acquire('agent/x')).acquired);
  });
});

describe('scale-out configuration (scaleOutConfigFromEnv, advertisedAddress)', () => {
  it('turns leases on with a Redis URL, off without, and names the bad variable', () => {
    assert.equal(scaleOutConfigFromEnv({}).leases, 'off');
    const redis = scaleOutConfigFromEnv({ ELIXIRCHAIN_REDIS_URL: 'redis://r:6379', ELIXIRCHAIN_LEASE_TTL_MS: '4000' });
    assert.deepEqual([redis.leases, redis.leaseTtlMs, redis.takeoverScanMs, redis.redisPrefix], ['redis', 4000, 2000, 'elixirchain:']);
    assert.equal(scaleOutConfigFromEnv({ ELIXIRCHAIN_LEASES: 'memory' }).leases, 'memory');
    assert.throws(() => scaleOutConfigFromEnv({ ELIXIRCHAIN_LEASES: 'redis' }), /ELIXIRCHAIN_LEASES: is redis but ELIXIRCHAIN_REDIS_URL is not set/);
    assert.throws(() => scaleOutConfigFromEnv({ ELIXIRCHAIN_LEASES: 'zookeeper' }), /ELIXIRCHAIN_LEASES: must be redis, memory or off/);
    assert.throws(() => scaleOutConfigFromEnv({ ELIXIRCHAIN_REDIS_URL: 'http://r' }), /ELIXIRCHAIN_REDIS_URL/);
    assert.throws(() => scaleOutConfigFromEnv({ ELIXIRCHAIN_REDIS_URL: 'redis://r', ELIXIRCHAIN_LEASE_TTL_MS: '5' }), /ELIXIRCHAIN_LEASE_TTL_MS/);
  });

  it('advertises the configured address, else the bound one, else a real interface for a wildcard bind', () => {
    assert.equal(advertisedAddress('127.0.0.1:5000', 'pod:1'), 'pod:1');
    assert.equal(advertisedAddress('127.0.0.1:5000'), '127.0.0.1:5000');
    const wildcard = advertisedAddress('0.0.0.0:5000');
    assert.match(wildcard, /^\d+\.\d+\.\d+\.\d+:5000$/);
    assert.notEqual(wildcard, '0.0.0.0:5000');
  });
});
