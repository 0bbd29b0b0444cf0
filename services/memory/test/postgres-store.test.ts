// PostgresStore against the PostgreSQL on this machine (or ELIXIRCHAIN_TEST_PG_URL):
// the shared contract suite, each test in a fresh schema that is dropped
// afterwards, plus what only a networked backend has to get right.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Role } from '@elixirchain/proto/memory';
import { until } from '@elixirchain/runtime';
import type { MessageInput, Store } from '../src/store/store.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { createStore, describeStoreBackend, resolveStoreBackend } from '../src/store/create-store.js';
import { runStoreContractSuite } from './contract/store-contract.js';

const PG_URL = process.env.ELIXIRCHAIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const freshSchema = () => `memtest_${process.pid}_${randomBytes(4).toString('hex')}`;

async function openFresh(extra: Partial<Parameters<typeof PostgresStore.open>[0]> = {}): Promise<PostgresStore> {
  return PostgresStore.open({ connectionString: PG_URL, schema: freshSchema(), poolSize: 4, sweepIntervalMs: 0, ...extra });
}

const drop = async (store: Store) => (store as PostgresStore).drop();

async function pgvectorAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return ((await client.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'vector'`)).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

runStoreContractSuite('postgres (exact cosine over in-process vector copies)', () => openFresh({ vectorSearch: 'exact' }), drop);
runStoreContractSuite(
  'postgres (exact cosine streamed from the database)',
  () => openFresh({ vectorSearch: 'exact', vectorCacheBytes: 0 }),
  drop,
);

if (await pgvectorAvailable()) {
  runStoreContractSuite('postgres (pgvector)', () => openFresh({ vectorSearch: 'pgvector' }), drop);
} else {
  describe('Store contract: postgres (pgvector)', () => {
    it('runs when the server offers the vector extension', function () {
      // Not installed here: the exact-cosine variant above covers the contract.
      this.skip();
    });
  });
}

describe('PostgresStore', function () {
  this.timeout(60_000);

  describe('schema and configuration', () => {
    let store: PostgresStore | undefined;
    afterEach(async () => {
      if (store) await store.drop().catch(() => store?.close());
      store = undefined;
    });

    it('migrates a fresh schema once and reopens it without migrating again', async () => {
      const schema = freshSchema();
      store = await PostgresStore.open({ connectionString: `${PG_URL}?schema=${schema}`, sweepIntervalMs: 0, poolSize: 2 });
      assert.equal(store.config.schema, schema);
      await store.putState({ key: 'k', value: { $case: 'structValue', structValue: { a: 1 } } });
      await store.close();
      store = await PostgresStore.open({ connectionString: PG_URL, schema, sweepIntervalMs: 0, poolSize: 2 });
      assert.equal((await store.getState('k')).version, 1);
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
        assert.deepEqual(rows.map((r) => r.version), [1, 2]);
      } finally {
        await client.end();
      }
    });

    it('upgrades a schema left at an older version and refuses one newer than this build', async () => {
      const schema = freshSchema();
      store = await PostgresStore.open({ connectionString: PG_URL, schema, sweepIntervalMs: 0, poolSize: 2 });
      await store.upsertMemories({ namespace: 'n', memories: [{ id: 'a', text: 'a', vector: [1, 0] }], embedder: 'e', dimensions: 2 });
      await store.close();
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        // Back to version 1, as an older build left it.
        await client.query(`ALTER TABLE "${schema}".namespaces DROP COLUMN vector_version`);
        await client.query(`DELETE FROM "${schema}".schema_migrations WHERE version = 2`);
        store = await PostgresStore.open({ connectionString: PG_URL, schema, sweepIntervalMs: 0, poolSize: 2 });
        const hit = await store.searchMemories({ namespace: 'n', vector: [1, 0], topK: 1 });
        assert.equal(hit.results[0].memory.id, 'a');
        await store.close();
        await client.query(`INSERT INTO "${schema}".schema_migrations (version, description) VALUES (99, 'from the future')`);
        await assert.rejects(
          PostgresStore.open({ connectionString: PG_URL, schema, sweepIntervalMs: 0, poolSize: 2 }),
          (e: { code?: number; reason?: string }) => e.code === 9 && e.reason === 'SCHEMA_TOO_NEW',
        );
      } finally {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
        store = undefined;
      }
    });

    it('refuses a schema name that is not a plain identifier', async () => {
      await assert.rejects(
        PostgresStore.open({ connectionString: PG_URL, schema: 'x"; drop schema public; --', sweepIntervalMs: 0 }),
        /schema name/,
      );
    });

    it('reports an unreachable server as UNAVAILABLE', async () => {
      const err = await PostgresStore.open({
        connectionString: 'postgres://postgres@127.0.0.1:1/test',
        schema: freshSchema(),
        connectTimeoutMs: 2000,
        sweepIntervalMs: 0,
      }).then(
        () => undefined,
        (e: unknown) => e as { code?: number; reason?: string },
      );
      assert.equal(err?.code, 14);
      assert.equal(err?.reason, 'STORE_UNAVAILABLE');
    });

    it('keeps message content with NUL characters exactly and refuses NUL in ids', async () => {
      store = await openFresh();
      const content = 'a\u0000b';
      await store.appendMessages({ threadId: 't', messages: [msg(content, { metadata: { k: 'x\u0000y' } })] });
      const listed = await store.listMessages({ threadId: 't', limit: 5, newestFirst: false });
      assert.equal(listed.messages[0].content, content);
      assert.deepEqual(listed.messages[0].metadata, { k: 'x\u0000y' });
      await store.upsertMemories({
        namespace: 'ns',
        memories: [{ id: 'm', text: 't\u0000t', metadata: { tag: 'n\u0000l' }, vector: [1, 0] }],
        embedder: 'e',
        dimensions: 2,
      });
      const got = await store.getMemory('ns', 'm');
      assert.equal(got.text, 't\u0000t');
      assert.deepEqual(got.metadata, { tag: 'n\u0000l' });
      const found = await store.listMemories({
        namespace: 'ns',
        limit: 5,
        filter: { all: [{ field: 'tag', condition: { $case: 'eq', eq: 'n\u0000l' } }], any: [] },
      });
      assert.deepEqual(found.memories.map((m) => m.id), ['m']);
      await assert.rejects(store.appendMessages({ threadId: 'bad\u0000id', messages: [msg('x')] }), (e: { code?: number }) => e.code === 3);
    });

    it('lets exactly one of many first writers of a new key, thread or namespace win the race', async () => {
      store = await openFresh({ poolSize: 6 });
      const s = store;
      const puts = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((n) => s.putState({ key: 'fresh', value: { $case: 'structValue', structValue: { n } }, expectedVersion: 0 })),
      );
      assert.equal(puts.filter((p) => p.status === 'fulfilled').length, 1);
      const appends = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((n) => s.appendMessages({ threadId: 'fresh', messages: [msg(`w${n}`)], expectedVersion: 0 })),
      );
      assert.equal(appends.filter((p) => p.status === 'fulfilled').length, 1);
      // Without a CAS every first append lands, in some order, none lost.
      await Promise.all([1, 2, 3, 4].map((n) => s.appendMessages({ threadId: 'free', messages: [msg(`f${n}`)] })));
      assert.equal((await s.getThread('free')).version, 4);
      const created = await Promise.allSettled(
        [2, 3].map((d) => s.upsertMemories({ namespace: 'race', memories: [{ id: `m${d}`, text: 't', vector: new Array(d).fill(1) }], embedder: 'e', dimensions: d })),
      );
      const ns = await s.getNamespace('race');
      assert.equal(created.filter((c) => c.status === 'fulfilled').length, 1, 'the loser sees the winner dimensions');
      assert.equal(ns.memoryCount, 1);
    });

    it('sweeps expired state and request ids past their retention', async () => {
      store = await openFresh({ requestRetentionMs: 50 });
      await store.putState({ key: 'gone', value: { $case: 'structValue', structValue: {} }, ttlMs: 20, requestId: 'old-req' });
      await store.putState({ key: 'kept', value: { $case: 'structValue', structValue: {} } });
      await new Promise((r) => setTimeout(r, 120));
      await store.sweep();
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        const state = await client.query(`SELECT key FROM "${store.config.schema}".state ORDER BY key`);
        assert.deepEqual(state.rows.map((r) => r.key), ['kept']);
        const requests = await client.query(`SELECT count(*)::int AS n FROM "${store.config.schema}".requests`);
        assert.equal(requests.rows[0].n, 0);
      } finally {
        await client.end();
      }
    });

    it('ranks exactly across several scan batches', async () => {
      store = await openFresh({ vectorSearch: 'exact', scanBatchRows: 7 });
      const d = 16;
      const vec = (i: number) => Array.from({ length: d }, (_, j) => Math.cos(i * 3.1 + j * 0.7));
      await store.upsertMemories({
        namespace: 'n',
        memories: Array.from({ length: 100 }, (_, i) => ({ id: `m${String(i).padStart(3, '0')}`, text: `${i}`, vector: vec(i) })),
        embedder: 'e',
        dimensions: d,
      });
      const res = await store.searchMemories({ namespace: 'n', vector: vec(42), topK: 5 });
      assert.equal(res.results[0].memory.id, 'm042');
      assert.equal(res.results.length, 5);
      for (let i = 1; i < res.results.length; i++) assert.ok(res.results[i - 1].score >= res.results[i].score);
    });
  });

  describe('in-process vector copies across replicas', () => {
    let a: PostgresStore;
    let b: PostgresStore;
    beforeEach(async () => {
      a = await openFresh({ vectorSearch: 'exact' });
      b = await PostgresStore.open({ connectionString: PG_URL, schema: a.config.schema, poolSize: 2, sweepIntervalMs: 0, vectorSearch: 'exact' });
    });
    afterEach(async () => {
      await b.close();
      await a.drop();
    });

    const unit = (hot: number) => Array.from({ length: 4 }, (_, i) => (i === hot ? 1 : 0));

    it("sees another replica's upserts and deletes in the very next search", async () => {
      await a.upsertMemories({ namespace: 'n', memories: [{ id: 'x', text: 'x', vector: unit(0) }], embedder: 'e', dimensions: 4 });
      assert.deepEqual((await a.searchMemories({ namespace: 'n', vector: unit(1), topK: 1, minScore: 0.5 })).results, []);
      const loads = a.vectorCacheStats().loads;
      await b.upsertMemories({ namespace: 'n', memories: [{ id: 'y', text: 'y', vector: unit(1) }], embedder: 'e', dimensions: 4 });
      const found = await a.searchMemories({ namespace: 'n', vector: unit(1), topK: 1 });
      assert.equal(found.results[0].memory.id, 'y');
      assert.equal(a.vectorCacheStats().loads, loads + 1, 'a foreign write reloads the copies');
      await b.deleteMemory('n', 'y');
      const after = await a.searchMemories({ namespace: 'n', vector: unit(1), topK: 5 });
      assert.deepEqual(after.results.map((r) => r.memory.id), ['x']);
      // A filtered search uses the copies too and agrees.
      const filtered = await a.searchMemories({
        namespace: 'n',
        vector: unit(0),
        topK: 5,
        filter: { all: [{ field: 'k', condition: { $case: 'exists', exists: false } }], any: [] },
      });
      assert.deepEqual(filtered.results.map((r) => r.memory.id), ['x']);
    });

    it('applies its own writes to the copies without reloading', async () => {
      await a.upsertMemories({ namespace: 'n', memories: [{ id: 'x', text: 'x', vector: unit(0) }], embedder: 'e', dimensions: 4 });
      await a.searchMemories({ namespace: 'n', vector: unit(0), topK: 1 });
      const loads = a.vectorCacheStats().loads;
      await a.upsertMemories({ namespace: 'n', memories: [{ id: 'x', text: 'x', vector: unit(2) }, { id: 'z', text: 'z', vector: unit(3) }], embedder: 'e', dimensions: 4 });
      await a.deleteMemory('n', 'z');
      const res = await a.searchMemories({ namespace: 'n', vector: unit(2), topK: 5 });
      assert.deepEqual(res.results.map((r) => r.memory.id), ['x']);
      assert.ok(Math.abs(res.results[0].score - 1) < 1e-6);
      assert.equal(a.vectorCacheStats().loads, loads);
    });
  });

  describe('createStore', () => {
    it('chooses SQLite by default, then ELIXIRCHAIN_STORE, then MONGODB_URL; an explicit url wins', () => {
      assert.deepEqual(resolveStoreBackend({ env: {} }), { kind: 'sqlite' });
      assert.deepEqual(resolveStoreBackend({ env: { ELIXIRCHAIN_STORE: 'sqlite', MONGODB_URL: 'mongodb://m' } }), { kind: 'sqlite' });
      assert.deepEqual(resolveStoreBackend({ env: { ELIXIRCHAIN_STORE: 'postgresql://p/db' } }), { kind: 'postgres', url: 'postgresql://p/db' });
      assert.deepEqual(resolveStoreBackend({ env: { MONGODB_URL: 'mongodb+srv://c/x' } }), { kind: 'mongodb', url: 'mongodb+srv://c/x' });
      assert.deepEqual(resolveStoreBackend({ env: { ELIXIRCHAIN_STORE: 'mongodb://a', MONGODB_URL: 'mongodb://b' } }), { kind: 'mongodb', url: 'mongodb://a' });
      assert.deepEqual(resolveStoreBackend({ url: 'sqlite', env: { ELIXIRCHAIN_STORE: 'postgres://p' } }), { kind: 'sqlite' });
    });

    it('refuses an unknown scheme naming the variable, and never logs a password', () => {
      assert.throws(() => resolveStoreBackend({ env: { ELIXIRCHAIN_STORE: 'mysql://x' } }), (e: { code?: number; message?: string }) =>
        e.code === 9 && /ELIXIRCHAIN_STORE/.test(e.message ?? ''),
      );
      assert.throws(() => resolveStoreBackend({ env: { MONGODB_URL: 'http://x' } }), /MONGODB_URL/);
      assert.equal(describeStoreBackend({ kind: 'postgres', url: 'postgres://u:hunter2@h/db' }), 'postgres postgres://u:***@h/db');
      assert.ok(!describeStoreBackend({ kind: 'mongodb', url: 'mongodb://u:hunter2@h/db' }).includes('hunter2'));
    });

    it('opens a migrated PostgresStore from ELIXIRCHAIN_STORE with the schema in the URL', async () => {
      const schema = freshSchema();
      const store = await createStore({ env: { ELIXIRCHAIN_STORE: `${PG_URL}?schema=${schema}`, ELIXIRCHAIN_PG_POOL_SIZE: '2' } });
      try {
        assert.equal(store.kind, 'postgres');
        assert.equal((store as PostgresStore).config.schema, schema);
        assert.equal((store as PostgresStore).config.poolSize, 2);
        assert.equal((await store.putState({ key: 'k', value: { $case: 'structValue', structValue: {} } })).version, 1);
      } finally {
        await (store as PostgresStore).drop();
      }
    });
  });

  describe('connection loss mid-write', () => {
    let store: PostgresStore;
    let admin: pg.Client;
    beforeEach(async () => {
      store = await openFresh({ applicationName: `memtest-fault-${process.pid}` });
      admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
    });
    afterEach(async () => {
      await admin.end().catch(() => {});
      await store.drop();
    });

    /** Holds the thread's row lock from another session so the store's append blocks inside its transaction. */
    async function holdThreadLock(threadId: string): Promise<pg.Client> {
      const blocker = new pg.Client({ connectionString: PG_URL });
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM "${store.config.schema}".threads WHERE id = $1 FOR UPDATE`, [threadId]);
      return blocker;
    }

    async function waitForBlockedBackend(): Promise<number> {
      return until('the append to block on the row lock', async () => {
        const { rows } = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [store.config.applicationName],
        );
        return rows[0]?.pid;
      }, 20_000);
    }

    it('answers UNAVAILABLE when the backend is terminated, and a retry with the same request_id applies once', async () => {
      await store.appendMessages({ threadId: 't', messages: [msg('first')] });
      const blocker = await holdThreadLock('t');
      try {
        const attempt = store.appendMessages({ threadId: 't', messages: [msg('second')], expectedVersion: 1, requestId: 'r-1' });
        const settled = attempt.then(
          () => undefined,
          (e: unknown) => e as { code?: number; reason?: string },
        );
        const pid = await waitForBlockedBackend();
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        const err = await settled;
        assert.equal(err?.code, 14, 'UNAVAILABLE');
        assert.equal(err?.reason, 'STORE_UNAVAILABLE');
      } finally {
        await blocker.query('ROLLBACK');
        await blocker.end();
      }
      // The pool replaced the dead connection; the retry applies the append once.
      const retry = await store.appendMessages({ threadId: 't', messages: [msg('second')], expectedVersion: 1, requestId: 'r-1' });
      assert.equal(retry.replayed, false);
      assert.equal(retry.thread.version, 2);
      const again = await store.appendMessages({ threadId: 't', messages: [msg('second')], expectedVersion: 1, requestId: 'r-1' });
      assert.equal(again.replayed, true);
      assert.deepEqual(again.messages.map((m) => m.id), retry.messages.map((m) => m.id));
      const listed = await store.listMessages({ threadId: 't', limit: 10, newestFirst: false });
      assert.deepEqual(listed.messages.map((m) => m.content), ['first', 'second']);
    });

    it('replays a write that committed before its connection died (the lost acknowledgement)', async () => {
      const first = await store.putState({ key: 'k', value: { $case: 'structValue', structValue: { n: 1 } }, requestId: 'p-1' });
      // Every pooled connection is killed, as after a failover: the committed write stays.
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [store.config.applicationName],
      );
      const retry = await store.putState({ key: 'k', value: { $case: 'structValue', structValue: { n: 1 } }, requestId: 'p-1' });
      assert.equal(retry.version, first.version);
      assert.equal((await store.getState('k')).version, 1);
    });

    it('lets two concurrent retries of one request_id apply it exactly once', async () => {
      const req = () => store.appendMessages({ threadId: 'c', messages: [msg('once')], requestId: 'same' });
      const results = await Promise.all([req(), req(), req()]);
      assert.equal(results.filter((r) => !r.replayed).length, 1);
      assert.equal((await store.getThread('c')).version, 1);
    });
  });
});

function msg(content: string, extra: Partial<MessageInput> = {}): MessageInput {
  return { id: '', role: Role.ROLE_USER, content, toolCalls: [], toolCallId: '', name: '', isError: false, turnId: '', ...extra };
}
