// MongoStore against a real MongoDB: the shared contract suite, on the
// transactional path (replica set / Atlas, when the server has it) and on the
// standalone path (transactions off), each test in a fresh database that is
// dropped afterwards. Runs only when MONGODB_URL is set, e.g.
//   MONGODB_URL=mongodb://127.0.0.1:27017 npx mocha services/memory/test/mongo-store.test.ts
// No MongoDB server can be installed on our build machines, so without it the
// suite reports itself skipped (never a silent pass).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Store } from '../src/store/store.js';
import { MongoStore, type MongoStoreOptions } from '../src/store/mongo/mongo-store.js';
import { runStoreContractSuite } from './contract/store-contract.js';

const MONGODB_URL = process.env.MONGODB_URL;

const freshDatabase = () => `memtest_${process.pid}_${randomBytes(4).toString('hex')}`;

function open(extra: Partial<MongoStoreOptions> = {}): Promise<MongoStore> {
  if (!MONGODB_URL) throw new Error('MONGODB_URL is not set');
  return MongoStore.open({ url: MONGODB_URL, database: freshDatabase(), vectorSearch: 'exact', serverSelectionTimeoutMs: 5000, ...extra });
}

const drop = async (store: Store) => (store as MongoStore).drop();

describe('MongoStore against a real MongoDB (MONGODB_URL)', function () {
  this.timeout(120_000);

  before(function () {
    if (!MONGODB_URL) {
      console.log('    MONGODB_URL is not set: skipping the MongoDB contract suite (set it to a mongodb:// URL to run it)');
      this.skip();
    }
  });

  runStoreContractSuite('mongodb (transactions where the deployment has them)', () => open(), drop);
  runStoreContractSuite('mongodb (standalone path: no transactions)', () => open({ transactions: 'off', orphanTimeoutMs: 2000 }), drop);

  describe('deployment detection', () => {
    let store: MongoStore | undefined;
    afterEach(async () => {
      await store?.drop();
      store = undefined;
    });

    it('reports what it detected and still serves the exact path', async () => {
      store = await open({ vectorSearch: 'auto' });
      console.log(`      transactions: ${store.transactionsSupported}, vector search: ${store.vectorMode}`);
      await store.upsertMemories({ namespace: 'n', memories: [{ id: 'a', text: 'a', vector: [1, 0, 0] }], embedder: 'e', dimensions: 3 });
      // A metadata filter always takes the exact scan, whatever the deployment.
      const hit = await store.searchMemories({
        namespace: 'n',
        vector: [1, 0, 0],
        topK: 1,
        filter: { all: [{ field: 'missing', condition: { $case: 'exists', exists: false } }], any: [] },
      });
      assert.equal(hit.results[0]?.memory.id, 'a');
    });

    it('answers with $vectorSearch once the index is queryable (deployments with search only)', async function () {
      store = await open({ vectorSearch: 'auto' });
      if (store.vectorMode !== 'atlas') this.skip();
      const d = 8;
      const vec = (i: number) => Array.from({ length: d }, (_, j) => Math.sin(i + j));
      await store.upsertMemories({
        namespace: 'ann',
        memories: Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, text: `${i}`, vector: vec(i) })),
        embedder: 'e',
        dimensions: d,
      });
      // The index builds asynchronously and lags writes: poll, generously.
      const deadline = Date.now() + 90_000;
      let top: string | undefined;
      while (Date.now() < deadline) {
        const res = await store.searchMemories({ namespace: 'ann', vector: vec(17), topK: 3 });
        top = res.results[0]?.memory.id;
        if (top === 'm17') break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      assert.equal(top, 'm17');
    });
  });
});

describe('MongoStore without a server', function () {
  this.timeout(30_000);

  it('reports an unreachable deployment as UNAVAILABLE at open', async () => {
    const err = await MongoStore.open({ url: 'mongodb://127.0.0.1:1/x', serverSelectionTimeoutMs: 500 }).then(
      () => undefined,
      (e: unknown) => e as { code?: number; reason?: string },
    );
    assert.equal(err?.code, 14);
    assert.equal(err?.reason, 'STORE_UNAVAILABLE');
  });

  it('refuses a URL that is not mongodb:// and a database name with unsafe characters', async () => {
    await assert.rejects(MongoStore.open({ url: 'postgres://x' }), /mongodb:\/\//);
    await assert.rejects(MongoStore.open({ url: 'mongodb://127.0.0.1:1', database: 'a.b' }), /database name/);
  });
});
