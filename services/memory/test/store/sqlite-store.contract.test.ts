import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { runStoreContractSuite } from '../contract/store-contract.js';

const dirs = new Map<SqliteStore, string>();

runStoreContractSuite(
  'sqlite',
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'memory-contract-'));
    const store = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0, sliceRows: 200 });
    dirs.set(store, dir);
    return store;
  },
  async (store) => {
    await store.close();
    const dir = dirs.get(store as SqliteStore);
    if (dir) rmSync(dir, { recursive: true, force: true });
    dirs.delete(store as SqliteStore);
  },
);
