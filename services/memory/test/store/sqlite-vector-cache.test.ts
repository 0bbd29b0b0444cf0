import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MetadataFilter } from '@elixirchain/proto/memory';
import { compareUtf8 } from '../../src/store/metadata-filter.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { NamespaceVectors } from '../../src/store/sqlite/vector-cache.js';

function vector(seed: number, dims: number): number[] {
  return Array.from({ length: dims }, (_, j) => Math.sin(seed * 12.9898 + j * 78.233) * 43758.5453 % 1);
}

describe('SqliteStore in-memory vector ranking', function () {
  this.timeout(60_000);
  let dir: string;
  let cached: SqliteStore;
  let plain: SqliteStore;
  const dims = 48;
  const n = 3000;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'memory-vectors-'));
    // Two connections to one file: one ranks in memory, one in SQL with sqlite-vec.
    cached = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0, sliceRows: 100, vectorCacheMinRows: 500 });
    plain = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0, vectorCacheBytes: 0 });
    await cached.upsertMemories({
      namespace: 'ns',
      embedder: 'e',
      dimensions: dims,
      memories: Array.from({ length: n }, (_, i) => ({ id: `m${i}`, text: `t${i}`, metadata: { group: i % 7, tag: `g${i % 3}` }, vector: vector(i, dims) })),
    });
  });
  after(async () => {
    await cached?.close();
    await plain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const filters: Array<MetadataFilter | undefined> = [
    undefined,
    { all: [{ field: 'group', condition: { $case: 'eq', eq: 3 } }], any: [] },
    { all: [{ field: 'group', condition: { $case: 'in', in: [1, 2] } }, { field: 'tag', condition: { $case: 'ne', ne: 'g0' } }], any: [] },
    { all: [], any: [{ all: [{ field: 'tag', condition: { $case: 'eq', eq: 'g2' } }], any: [] }] },
  ];

  async function same(query: number[], filter: MetadataFilter | undefined, minScore?: number) {
    const a = await cached.searchMemories({ namespace: 'ns', vector: query, topK: 15, filter, minScore });
    const b = await plain.searchMemories({ namespace: 'ns', vector: query, topK: 15, filter, minScore });
    assert.deepEqual(a.results.map((r) => r.memory.id), b.results.map((r) => r.memory.id));
    a.results.forEach((r, i) => assert.ok(Math.abs(r.score - b.results[i].score) < 1e-4));
  }

  async function waitLoaded() {
    const deadline = Date.now() + 30_000;
    while (cached.vectorCacheStats().namespaces === 0 || (await isLoading())) {
      if (Date.now() > deadline) assert.fail('vector copies never finished loading');
      await cached.searchMemories({ namespace: 'ns', vector: vector(1, dims), topK: 1 });
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const isLoading = async () => cached.vectorCacheStats().bytes < n * dims * 0.9; // ≥ 1 byte per dimension once loaded

  it('ranks exactly like sqlite-vec while loading and once loaded', async () => {
    await same(vector(9999, dims), filters[1]); // starts the sliced load; answered in SQL
    await waitLoaded();
    for (const [i, f] of filters.entries()) await same(vector(5000 + i, dims), f);
    await same(vector(42, dims), undefined, 0.2);
  });

  it('stays current through its own upserts and deletes', async () => {
    await waitLoaded();
    const q = vector(777, dims);
    await cached.upsertMemories({ namespace: 'ns', embedder: 'e', dimensions: dims, memories: [{ id: 'm5', text: 'moved', metadata: { group: 3 }, vector: q }] });
    const top = await cached.searchMemories({ namespace: 'ns', vector: q, topK: 1 });
    assert.equal(top.results[0].memory.id, 'm5');
    await cached.deleteMemory('ns', 'm5');
    await same(q, filters[1]);
  });

  it('drops its copies when another connection writes the file', async () => {
    await waitLoaded();
    const q = vector(888, dims);
    await plain.upsertMemories({ namespace: 'ns', embedder: 'e', dimensions: dims, memories: [{ id: 'external', text: 'x', vector: q }] });
    const top = await cached.searchMemories({ namespace: 'ns', vector: q, topK: 1 });
    assert.equal(top.results[0].memory.id, 'external');
  });
});

describe('NamespaceVectors (int8 SIMD kernel, exact re-ranking)', () => {
  /** Best first, as cosine in float64 over the given rowids. */
  function reference(rows: Map<number, number[]>, query: number[], k: number, only?: Set<number>) {
    const norm = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    return [...rows]
      .filter(([rowid]) => !only || only.has(rowid))
      .map(([rowid, v]) => ({ rowid, score: v.reduce((a, x, i) => a + x * query[i], 0) / (norm(v) * norm(query)) }))
      .sort((a, b) => b.score - a.score || a.rowid - b.rowid)
      .slice(0, k);
  }

  for (const [dims, n] of [[7, 13], [64, 4099], [10, 9000]]) {
    it(`scores ${n} rows of ${dims} dims like float64 cosine (rows in blocks, odd tails, slots, growth, deletes)`, () => {
      const entry = new NamespaceVectors(dims, 4); // grows its memory several times
      const rows = new Map<number, number[]>();
      for (let r = 1; r <= n; r++) {
        const v = vector(r, dims);
        rows.set(r, v);
        entry.set(r, Float32Array.from(v), undefined);
      }
      for (const r of [2, 5, n - 1]) {
        entry.delete(r);
        rows.delete(r);
      }
      const query = vector(n + 1, dims);
      let reranked = 0;
      const exact = (rowids: number[]) => {
        reranked += rowids.length;
        return rowids.map((r) => (rows.has(r) ? Float32Array.from(rows.get(r) as number[]) : undefined));
      };
      const check = (got: Array<{ rowid: number; score: number }>, want: Array<{ rowid: number; score: number }>) => {
        assert.deepEqual(got.map((g) => g.rowid), want.map((w) => w.rowid));
        got.forEach((g, i) => assert.ok(Math.abs(g.score - want[i].score) < 1e-5));
      };
      check(entry.topK(Float32Array.from(query), 10, undefined, undefined, exact), reference(rows, query, 10));
      const some = [...rows.keys()].filter((r) => r % 3 === 1);
      check(entry.topK(Float32Array.from(query), 5, entry.slotsOf(some), undefined, exact), reference(rows, query, 5, new Set(some)));
      const floor = reference(rows, query, 4)[3].score;
      check(entry.topK(Float32Array.from(query), 10, undefined, floor - 1e-6, exact), reference(rows, query, 4));
      // The quantised pass settles most rows: only a few are re-scored exactly.
      if (rows.size > 1000) assert.ok(reranked < rows.size / 10, `re-scored ${reranked} of ${rows.size} × 3`);
    });
  }
});

describe('SqliteStore in-memory metadata columns', function () {
  this.timeout(60_000);
  let dir: string;
  let cached: SqliteStore;
  let plain: SqliteStore;
  const dims = 24;
  const n = 1200; // above sliceRows × 8: vectors and columns load in slices
  // Every kind of value a filter distinguishes, including non-BMP strings (byte order ≠ UTF-16 order) and non-scalars.
  const names = ['a', 'b', '\uE000', '\u{1F600}', 'é', ''];
  const metadataOf = (i: number): Record<string, unknown> => ({
    group: i % 7,
    tag: `g${i % 3}`,
    flag: i % 2 === 0,
    maybe: i % 5 === 0 ? null : i % 5 === 1 ? '1' : i % 5,
    name: names[i % names.length],
    ...(i % 4 === 0 ? { nested: { a: i % 3, b: { c: `x${i % 2}` } } } : i % 4 === 1 ? { nested: 'not an object' } : {}),
    ...(i % 9 === 0 ? { list: [1, 2] } : {}),
    ...(i % 11 === 0 ? { big: 2 ** 60 } : { big: i / 4 }),
  });
  const eq = (field: string, v: unknown) => ({ field, condition: { $case: 'eq' as const, eq: v as never } });
  const filters: MetadataFilter[] = [
    { all: [eq('tag', 'g1')], any: [] },
    { all: [eq('group', 3)], any: [] },
    { all: [eq('flag', true)], any: [] },
    { all: [eq('maybe', null)], any: [] },
    { all: [eq('maybe', '1')], any: [] },
    { all: [eq('maybe', 1)], any: [] },
    { all: [eq('tag', 'nope')], any: [] },
    { all: [{ field: 'tag', condition: { $case: 'ne', ne: 'g0' } }], any: [] },
    { all: [{ field: 'list', condition: { $case: 'ne', ne: 1 } }], any: [] },
    { all: [{ field: 'maybe', condition: { $case: 'in', in: [null, 2, '1', true] } }], any: [] },
    { all: [{ field: 'group', condition: { $case: 'range', range: { gte: 2, lt: 5 } } }], any: [] },
    { all: [{ field: 'big', condition: { $case: 'range', range: { gt: 100 } } }], any: [] },
    { all: [{ field: 'name', condition: { $case: 'range', range: { gt: '\uE000' } } }], any: [] },
    { all: [{ field: 'nested', condition: { $case: 'exists', exists: true } }], any: [] },
    { all: [{ field: 'list', condition: { $case: 'exists', exists: false } }], any: [] },
    { all: [eq('nested.a', 1)], any: [] },
    { all: [{ field: 'nested.b.c', condition: { $case: 'exists', exists: true } }, eq('flag', false)], any: [] },
    { all: [eq('flag', true)], any: [{ all: [eq('tag', 'g2')], any: [] }, { all: [eq('group', 0)], any: [] }] },
  ];

  async function same(store: SqliteStore, query: number[], filter: MetadataFilter, namespace = 'cols') {
    const a = await store.searchMemories({ namespace, vector: query, topK: 20, filter });
    const b = await plain.searchMemories({ namespace, vector: query, topK: 20, filter });
    assert.deepEqual(a.results.map((r) => r.memory.id), b.results.map((r) => r.memory.id), JSON.stringify(filter));
    a.results.forEach((r, i) => assert.ok(Math.abs(r.score - b.results[i].score) < 1e-4));
  }

  /** Searches with filter until every column it reads has loaded (the first searches are answered from SQL). */
  async function loadColumns(filter: MetadataFilter, columns: number) {
    const deadline = Date.now() + 30_000;
    while (cached.vectorCacheStats().columns < columns) {
      if (Date.now() > deadline) assert.fail('columns never finished loading');
      await same(cached, vector(3, dims), filter);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'memory-columns-'));
    cached = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0, sliceRows: 100, vectorCacheMinRows: 500 });
    plain = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0, vectorCacheBytes: 0 });
    await cached.upsertMemories({
      namespace: 'cols',
      embedder: 'e',
      dimensions: dims,
      memories: Array.from({ length: n }, (_, i) => ({ id: `m${i}`, text: `t${i}`, metadata: metadataOf(i) as never, vector: vector(i, dims) })),
    });
    assert.equal(await cached.warmVectors('cols'), true);
  });
  after(async () => {
    await cached?.close();
    await plain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('filters exactly like SQL with every condition kind, while the columns load and once loaded', async () => {
    for (const [i, f] of filters.entries()) await same(cached, vector(100 + i, dims), f); // starts the loads
    await loadColumns({ all: [eq('tag', 'g1')], any: [] }, 1);
    const fields = new Set(filters.flatMap((f) => JSON.stringify(f).match(/"field":"[^"]+"/g) ?? []));
    const deadline = Date.now() + 30_000;
    while (cached.vectorCacheStats().columns < fields.size) {
      if (Date.now() > deadline) assert.fail(`columns loaded: ${cached.vectorCacheStats().columns} of ${fields.size}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const [i, f] of filters.entries()) await same(cached, vector(200 + i, dims), f);
  });

  it('keeps the columns current through updates and deletes (slots move on delete)', async () => {
    await loadColumns({ all: [eq('tag', 'g1')], any: [] }, 1);
    const q = vector(4242, dims);
    // An update changes a field's value, adds one and removes one.
    await cached.upsertMemories({ namespace: 'cols', embedder: 'e', dimensions: dims, memories: [{ id: 'm4', text: 'moved', metadata: { tag: 'fresh', extra: 1 }, vector: q }] });
    let hit = await cached.searchMemories({ namespace: 'cols', vector: q, topK: 5, filter: { all: [eq('tag', 'fresh')], any: [] } });
    assert.deepEqual(hit.results.map((r) => r.memory.id), ['m4']);
    hit = await cached.searchMemories({ namespace: 'cols', vector: q, topK: 1, filter: { all: [eq('tag', 'g1')], any: [] } });
    assert.notEqual(hit.results[0]?.memory.id, 'm4');
    await same(cached, q, { all: [{ field: 'group', condition: { $case: 'exists', exists: false } }], any: [] });
    // A new memory, then deleting an early one moves the last slot (the new memory) into its place.
    await cached.upsertMemories({ namespace: 'cols', embedder: 'e', dimensions: dims, memories: [{ id: 'late', text: 'late', metadata: { tag: 'late' }, vector: q }] });
    await cached.deleteMemory('cols', 'm0');
    hit = await cached.searchMemories({ namespace: 'cols', vector: q, topK: 5, filter: { all: [eq('tag', 'late')], any: [] } });
    assert.deepEqual(hit.results.map((r) => r.memory.id), ['late']);
    await cached.deleteMemory('cols', 'm4');
    for (const f of filters) await same(cached, q, f);
  });

  it('forgets a dropped namespace: a new one of the same name starts without its columns', async () => {
    const memories = (tag: string) =>
      Array.from({ length: 600 }, (_, i) => ({ id: `d${i}`, text: 'x', metadata: { tag: `${tag}${i % 2}` }, vector: vector(i, dims) }));
    await cached.upsertMemories({ namespace: 'drop', embedder: 'e', dimensions: dims, memories: memories('old') });
    const columns = cached.vectorCacheStats().columns;
    assert.equal(await cached.warmVectors('drop', ['tag']), true);
    assert.equal(cached.vectorCacheStats().columns, columns + 1);
    const filter = { all: [eq('tag', 'old1')], any: [] };
    await same(cached, vector(1, dims), filter, 'drop');
    assert.equal((await cached.searchMemories({ namespace: 'drop', vector: vector(1, dims), topK: 3, filter })).results.length, 3);
    await cached.deleteNamespace('drop');
    await cached.upsertMemories({ namespace: 'drop', embedder: 'e', dimensions: dims, memories: memories('new') });
    await cached.warmVectors('drop');
    assert.equal((await cached.searchMemories({ namespace: 'drop', vector: vector(1, dims), topK: 3, filter })).results.length, 0);
    await same(cached, vector(2, dims), { all: [eq('tag', 'new1')], any: [] }, 'drop');
  });

  it('drops its columns when another connection writes the file', async () => {
    await loadColumns({ all: [eq('tag', 'g1')], any: [] }, 1);
    const q = vector(9001, dims);
    await plain.upsertMemories({ namespace: 'cols', embedder: 'e', dimensions: dims, memories: [{ id: 'm7', text: 'x', metadata: { tag: 'outside' }, vector: q }] });
    const hit = await cached.searchMemories({ namespace: 'cols', vector: q, topK: 1, filter: { all: [eq('tag', 'outside')], any: [] } });
    assert.deepEqual(hit.results.map((r) => r.memory.id), ['m7']);
    assert.equal(await cached.warmVectors('cols', ['tag']), true); // the sliced column load, awaited
    assert.equal(cached.vectorCacheStats().columns, 1);
    await same(cached, q, { all: [eq('tag', 'outside')], any: [] });
    await same(cached, q, { all: [eq('tag', 'g1')], any: [] });
  });
});

describe('compareUtf8', () => {
  it('orders strings as their UTF-8 bytes do', () => {
    const alphabet = ['a', 'z', '\u00e9', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}', ''];
    let seed = 1;
    const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const word = () => Array.from({ length: Math.floor(next() * 4) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    for (let i = 0; i < 2000; i++) {
      const [a, b] = [word(), word()];
      assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), JSON.stringify([a, b]));
    }
  });
});

describe('SqliteStore migrations', () => {
  it('brings a version-1 file up to the latest schema and records each version once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'memory-migrate-'));
    try {
      const { DatabaseSync } = await import('node:sqlite');
      const { MIGRATIONS } = await import('../../src/store/sqlite/migrations.js');
      // A file as the first release left it: only migration 1 applied.
      const db = new DatabaseSync(path.join(dir, 'memory.db'));
      db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
      db.exec(MIGRATIONS[0].sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (1)').run();
      db.close();
      const store = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0 });
      const versions = store.database.prepare('SELECT version FROM schema_version ORDER BY version').all().map((r) => r.version);
      assert.deepEqual(versions, MIGRATIONS.map((m) => m.version));
      const indexes = store.database.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'memories_by_ns'").all();
      assert.equal(indexes.length, 1);
      await store.close();
      // Opening again applies nothing twice.
      const again = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0 });
      assert.equal(again.database.prepare('SELECT count(*) AS n FROM schema_version').get()?.n, MIGRATIONS.length);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
