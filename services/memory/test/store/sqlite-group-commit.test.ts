import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { WriteOperation } from '../../src/store/store.js';

function put(key: string, n: number, expectedVersion?: number): WriteOperation {
  return { $case: 'putState', putState: { key, value: { $case: 'structValue', structValue: { n } }, expectedVersion } };
}

describe('SqliteStore group commit', function () {
  this.timeout(30_000);
  let dir: string;
  let store: SqliteStore;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'memory-group-commit-'));
    store = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0 });
  });
  afterEach(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits concurrent batches in one transaction, each batch failing alone', async () => {
    const results = await Promise.allSettled([
      store.batchWrite({ atomic: true, operations: [put('a', 1), put('b', 1)] }),
      // Fails its compare-and-set: only this batch rolls back.
      store.batchWrite({ atomic: true, operations: [put('c', 1), put('a', 2, 5)] }),
      store.batchWrite({ atomic: false, operations: [put('d', 1), put('b', 2, 7)] }),
      store.batchWrite({ atomic: true, operations: [put('a', 3, 1)] }),
    ]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[1].status, 'rejected');
    assert.equal((results[1] as PromiseRejectedResult).reason.metadata.operationIndex, '1');
    assert.equal(results[2].status, 'fulfilled');
    const nonAtomic = (results[2] as PromiseFulfilledResult<Awaited<ReturnType<SqliteStore['batchWrite']>>>).value;
    assert.equal(nonAtomic[0].$case, 'putState');
    assert.equal(nonAtomic[1].$case, 'error');
    assert.equal(results[3].status, 'fulfilled');

    assert.deepEqual((await store.getState('a')).value, { $case: 'structValue', structValue: { n: 3 } });
    assert.equal((await store.getState('a')).version, 2);
    await assert.rejects(store.getState('c'), (e: { codeName?: string }) => e.codeName === 'NOT_FOUND');
    assert.equal((await store.getState('d')).version, 1);
  });

  it('applies a queued batch before any later call reads or writes', async () => {
    const write = store.batchWrite({ atomic: true, operations: [put('k', 1)] });
    // Issued after the batch without awaiting it: must see it, as before group commit.
    const read = store.getState('k');
    const second = store.putState({ key: 'k', value: { $case: 'structValue', structValue: { n: 2 } }, expectedVersion: 1 });
    await write;
    assert.equal((await read).version, 1);
    assert.equal((await second).version, 2);
  });

  it('settles queued batches when the store closes', async () => {
    const write = store.batchWrite({ atomic: true, operations: [put('z', 1)] });
    await store.close();
    await write;
    const reopened = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0 });
    try {
      assert.equal((await reopened.getState('z')).version, 1);
    } finally {
      await reopened.close();
    }
  });
});
