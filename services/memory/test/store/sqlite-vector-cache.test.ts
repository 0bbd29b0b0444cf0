import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MetadataFilter } from '@elixirchain/proto/memory';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

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
  const isLoading = async () => cached.vectorCacheStats().bytes < n * dims * 4 * 0.9;

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
