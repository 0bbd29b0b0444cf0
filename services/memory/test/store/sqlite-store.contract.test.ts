import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { runStoreContractSuite } from '../contract/store-contract.js';

const dirs = new Map<SqliteStore, string>();

const drop = async (store: Store) => {
  await store.close();
  const dir = dirs.get(store as SqliteStore);
  if (dir) rmSync(dir, { recursive: true, force: true });
  dirs.delete(store as SqliteStore);
};

const open = (options: SqliteStoreOptions) => async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'memory-contract-'));
  const store = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0, ...options });
  dirs.set(store, dir);
  return store;
};

// Ranking in SQL with sqlite-vec (small namespaces, or the vector cache off)…
runStoreContractSuite('sqlite', open({ sliceRows: 200, vectorCacheBytes: 0 }), drop);
// …and in the in-memory vector copies (every namespace, however small).
runStoreContractSuite('sqlite with in-memory vector ranking', open({ sliceRows: 500, vectorCacheMinRows: 0 }), drop);
