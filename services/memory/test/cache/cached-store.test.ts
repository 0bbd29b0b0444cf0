import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Role } from '@elixirchain/proto/memory';
import { CachedStore } from '../../src/cache/cached-store.js';
import type { Store } from '../../src/store/store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { runStoreContractSuite } from '../contract/store-contract.js';

const dirs = new Map<Store, string>();
async function makeCached(maxBytes = 1 << 20): Promise<CachedStore> {
  const dir = mkdtempSync(path.join(tmpdir(), 'memory-cache-'));
  const store = new CachedStore(await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0 }), { maxBytes });
  dirs.set(store, dir);
  return store;
}
async function drop(store: Store): Promise<void> {
  await store.close();
  rmSync(dirs.get(store) as string, { recursive: true, force: true });
  dirs.delete(store);
}

const msg = (content: string) => ({ id: '', role: Role.ROLE_USER, content, toolCalls: [], toolCallId: '', name: '', isError: false, turnId: '' });

// The cache must not change any observable behaviour of the store below it.
runStoreContractSuite('sqlite behind CachedStore', () => makeCached(), drop);

describe('CachedStore', () => {
  let store: CachedStore;
  beforeEach(async () => {
    store = await makeCached();
  });
  afterEach(() => drop(store));

  it('serves repeated reads of a hot thread from the cache', async () => {
    await store.appendMessages({ threadId: 't', messages: [msg('a'), msg('b')] });
    const first = await store.listMessages({ threadId: 't', limit: 50, newestFirst: false });
    const second = await store.listMessages({ threadId: 't', limit: 50, newestFirst: false });
    assert.equal(second, first, 'the second read is the cached object');
    const s = store.stats();
    assert.equal(s.hits, 1);
    assert.equal(s.misses, 1);
  });

  it('invalidates a thread on append, so the next read sees the new message', async () => {
    await store.appendMessages({ threadId: 't', messages: [msg('a')] });
    await store.listMessages({ threadId: 't', limit: 50, newestFirst: false });
    await store.getThread('t');
    await store.appendMessages({ threadId: 't', messages: [msg('b')] });
    const after = await store.listMessages({ threadId: 't', limit: 50, newestFirst: false });
    assert.deepEqual(after.messages.map((m) => m.content), ['a', 'b']);
    assert.equal((await store.getThread('t')).version, 2);
  });

  it('invalidates memories and namespace counts on upsert and delete', async () => {
    const v = [1, 0, 0, 0];
    await store.upsertMemories({ namespace: 'ns', memories: [{ id: 'a', text: 'one', vector: v }], embedder: 'e', dimensions: 4 });
    assert.equal((await store.getMemory('ns', 'a')).text, 'one');
    assert.equal((await store.getNamespace('ns')).memoryCount, 1);
    await store.upsertMemories({ namespace: 'ns', memories: [{ id: 'a', text: 'two', vector: v }, { id: 'b', text: 'b', vector: v }], embedder: 'e', dimensions: 4 });
    assert.equal((await store.getMemory('ns', 'a')).text, 'two');
    assert.equal((await store.getNamespace('ns')).memoryCount, 2);
    await store.deleteNamespace('ns');
    await assert.rejects(store.getMemory('ns', 'a'), { code: 5 });
  });

  it('does not cache a read that raced with a write', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inner = store.inner;
    const slow = new CachedStore({
      ...({} as Store),
      kind: 'slow',
      getState: async (key: string) => {
        const entry = await inner.getState(key);
        await gate; // the write below lands while this read is in flight
        return entry;
      },
      putState: (input) => inner.putState(input),
      close: async () => {},
    } as Store);
    await inner.putState({ key: 'k', value: { $case: 'structValue', structValue: { v: 1 } } });
    const reading = slow.getState('k');
    await slow.putState({ key: 'k', value: { $case: 'structValue', structValue: { v: 2 } } });
    release();
    assert.equal((await reading).version, 1);
    // Had the stale read been cached, this would still say version 1.
    const fresh = await slow.getState('k');
    assert.equal(fresh.version, 2);
  });

  it('stays within its byte budget', async () => {
    const small = await makeCached(64 * 1024);
    try {
      for (let i = 0; i < 50; i++) {
        await small.appendMessages({ threadId: `t${i}`, messages: [msg('x'.repeat(4000))] });
        await small.listMessages({ threadId: `t${i}`, limit: 10, newestFirst: false });
      }
      const s = small.stats();
      assert.ok(s.bytes <= 64 * 1024, `${s.bytes}`);
      assert.ok(s.evictions > 0);
    } finally {
      await drop(small);
    }
  });
});
