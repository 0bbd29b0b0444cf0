// MongoStore's own logic (CAS loops, slot races, replay, compensation,
// projections, paging) run through the shared contract suite on an in-memory
// stand-in for the handful of MongoClient calls the store makes: queries and
// updates evaluated by mingo, unique indexes enforced with the driver's own
// duplicate-key error, every operation atomic on its own and interleaved with
// others at await points, like a standalone server. It checks the store's
// logic on the standalone path; it is not the driver and not a server — the
// real thing runs in mongo-store.test.ts when MONGODB_URL is set.
import assert from 'node:assert/strict';
import { Binary, MongoServerError, type MongoClient } from 'mongodb';
import { Query } from 'mingo';
import { update as applyUpdate } from 'mingo/updater';
import { Role } from '@elixirchain/proto/memory';
import type { Store } from '../src/store/store.js';
import { MongoStore } from '../src/store/mongo/mongo-store.js';
import { runStoreContractSuite } from './contract/store-contract.js';

type Doc = Record<string, any>;

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function clone<T>(value: T): T {
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (value instanceof Binary) return new Binary(Buffer.from(value.read(0, value.length()))) as T;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value) as T;
  if (Array.isArray(value)) return value.map((v) => clone(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Doc = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = clone(v);
    return out as T;
  }
  return value;
}

function duplicateKey(): MongoServerError {
  return new MongoServerError({ message: 'E11000 duplicate key error', code: 11000 });
}

class FakeCursor {
  private sortSpec: Doc | undefined;
  private limitN: number | undefined;
  constructor(
    private readonly load: () => Doc[],
    private readonly filter: Doc,
    private readonly projection: Doc | undefined,
  ) {}
  sort(spec: Doc) {
    this.sortSpec = spec;
    return this;
  }
  limit(n: number) {
    this.limitN = n;
    return this;
  }
  batchSize() {
    return this;
  }
  async toArray(): Promise<Doc[]> {
    await tick();
    let cursor = new Query(this.filter).find<Doc>(this.load(), this.projection);
    if (this.sortSpec) cursor = cursor.sort(this.sortSpec);
    if (this.limitN !== undefined) cursor = cursor.limit(this.limitN);
    return cursor.all().map((d) => clone(d));
  }
  async *[Symbol.asyncIterator]() {
    for (const doc of await this.toArray()) yield doc;
  }
}

class FakeCollection {
  docs: Doc[] = [];
  // Unique indexes as maps from the indexed values to the document holding them.
  private readonly unique: Array<{ keys: string[]; map: Map<string, Doc> }> = [{ keys: ['_id'], map: new Map() }];
  private nextId = 1;

  async createIndexes(specs: Array<{ key: Doc; unique?: boolean }>) {
    for (const s of specs) {
      if (!s.unique) continue;
      const index = { keys: Object.keys(s.key), map: new Map<string, Doc>() };
      for (const d of this.docs) index.map.set(this.keyOf(index.keys, d), d);
      this.unique.push(index);
    }
    return specs.map((_, i) => `index${i}`);
  }

  private keyOf(keys: string[], doc: Doc): string {
    return JSON.stringify(keys.map((k) => doc[k] ?? null));
  }

  /** Throws the driver's duplicate-key error if candidate collides with a document other than except. */
  private checkUnique(candidate: Doc, except?: Doc): void {
    for (const index of this.unique) {
      const holder = index.map.get(this.keyOf(index.keys, candidate));
      if (holder && holder !== except) throw duplicateKey();
    }
  }

  private unindex(doc: Doc): void {
    for (const index of this.unique) index.map.delete(this.keyOf(index.keys, doc));
  }

  private index(doc: Doc): void {
    for (const index of this.unique) index.map.set(this.keyOf(index.keys, doc), doc);
  }

  private match(filter: Doc): Doc[] {
    const q = new Query(filter);
    // Equality on every field of a unique index: look the one candidate up.
    for (const index of this.unique) {
      if (index.keys.every((k) => k in filter && (filter[k] === null || typeof filter[k] !== 'object'))) {
        const doc = index.map.get(this.keyOf(index.keys, filter));
        return doc && q.test(doc) ? [doc] : [];
      }
    }
    return this.docs.filter((d) => q.test(d));
  }

  find(filter: Doc = {}, options: { projection?: Doc } = {}) {
    return new FakeCursor(() => this.docs, filter, options.projection);
  }

  async findOne(filter: Doc, options: { projection?: Doc } = {}) {
    const [doc] = await this.find(filter, options).limit(1).toArray();
    return doc ?? null;
  }

  async countDocuments(filter: Doc = {}) {
    await tick();
    return this.match(filter).length;
  }

  private insertNow(doc: Doc) {
    const stored = clone(doc);
    stored._id ??= `oid-${this.nextId++}`;
    this.checkUnique(stored);
    this.docs.push(stored);
    this.index(stored);
  }

  async insertOne(doc: Doc) {
    await tick();
    this.insertNow(doc);
    return { acknowledged: true };
  }

  async insertMany(docs: Doc[]) {
    await tick();
    for (const d of docs) this.insertNow(d); // ordered: stops at the first duplicate, keeping earlier ones
    return { acknowledged: true };
  }

  private updateNow(filter: Doc, updateDoc: Doc, upsert: boolean) {
    const [target] = this.match(filter);
    const { $setOnInsert, ...modifier } = updateDoc;
    if (target) {
      const next = clone(target);
      applyUpdate(next, clone(modifier));
      this.replaceNow(target, next);
      return { matchedCount: 1, modifiedCount: 1, upsertedCount: 0 };
    }
    if (!upsert) return { matchedCount: 0, modifiedCount: 0, upsertedCount: 0 };
    const seed: Doc = {};
    for (const [k, v] of Object.entries(filter)) if (!k.startsWith('$') && (v === null || typeof v !== 'object')) seed[k] = v;
    applyUpdate(seed, clone({ ...modifier, ...($setOnInsert ? { $set: { ...(modifier.$set ?? {}), ...$setOnInsert } } : {}) }));
    this.insertNow(seed);
    return { matchedCount: 0, modifiedCount: 0, upsertedCount: 1 };
  }

  async updateOne(filter: Doc, updateDoc: Doc, options: { upsert?: boolean } = {}) {
    await tick();
    return this.updateNow(filter, updateDoc, options.upsert === true);
  }

  async replaceOne(filter: Doc, replacement: Doc) {
    await tick();
    const [target] = this.match(filter);
    if (!target) return { matchedCount: 0, modifiedCount: 0 };
    const next = clone(replacement);
    next._id = target._id;
    this.replaceNow(target, next);
    return { matchedCount: 1, modifiedCount: 1 };
  }

  private replaceNow(target: Doc, next: Doc): void {
    this.checkUnique(next, target);
    this.unindex(target);
    Object.keys(target).forEach((k) => delete target[k]);
    Object.assign(target, next);
    this.index(target);
  }

  async deleteOne(filter: Doc) {
    await tick();
    const [target] = this.match(filter);
    if (!target) return { deletedCount: 0 };
    this.unindex(target);
    this.docs = this.docs.filter((d) => d !== target);
    return { deletedCount: 1 };
  }

  async deleteMany(filter: Doc) {
    await tick();
    const gone = new Set(this.match(filter));
    for (const d of gone) this.unindex(d);
    this.docs = this.docs.filter((d) => !gone.has(d));
    return { deletedCount: gone.size };
  }

  async bulkWrite(ops: Array<{ updateOne: { filter: Doc; update: Doc; upsert?: boolean } }>) {
    await tick();
    for (const op of ops) this.updateNow(op.updateOne.filter, op.updateOne.update, op.updateOne.upsert === true);
    return { ok: 1 };
  }

  /** A copy of the documents, for rolling a stand-in transaction back. */
  snapshot(): Doc[] {
    return this.docs.map((d) => clone(d));
  }

  restore(docs: Doc[]): void {
    this.docs = docs;
    for (const index of this.unique) {
      index.map.clear();
      for (const d of this.docs) index.map.set(this.keyOf(index.keys, d), d);
    }
  }

  listSearchIndexes() {
    return {
      toArray: async () => {
        throw new MongoServerError({ message: "Unrecognized pipeline stage name: '$listSearchIndexes'", code: 40324 });
      },
    };
  }
}

class FakeDb {
  readonly collections = new Map<string, FakeCollection>();
  collection(name: string) {
    let c = this.collections.get(name);
    if (!c) this.collections.set(name, (c = new FakeCollection()));
    return c;
  }
  async createCollection(name: string) {
    this.collection(name);
  }
  async dropDatabase() {
    this.collections.clear();
  }
  replicaSet = false;
  async command(cmd: Doc) {
    if ('hello' in cmd) {
      return this.replicaSet
        ? { isWritablePrimary: true, setName: 'rs0', logicalSessionTimeoutMinutes: 30, maxWireVersion: 25 }
        : { isWritablePrimary: true, maxWireVersion: 25 };
    }
    throw new Error(`unsupported command ${Object.keys(cmd)[0]}`);
  }
}

/**
 * With replicaSet, hello reports a replica set and sessions run transactions
 * one at a time against a copy of every collection, restored if the callback
 * throws: atomic and serialisable (stricter than MongoDB's snapshot
 * isolation, which would also raise write conflicts the driver retries).
 */
class FakeClient {
  private readonly dbs = new Map<string, FakeDb>();
  private turn: Promise<void> = Promise.resolve();
  constructor(private readonly replicaSet = false) {}
  async connect() {
    return this;
  }
  db(name = 'test') {
    let d = this.dbs.get(name);
    if (!d) {
      this.dbs.set(name, (d = new FakeDb()));
      d.replicaSet = this.replicaSet;
    }
    return d;
  }
  startSession() {
    if (!this.replicaSet) throw new Error('a standalone stand-in has no sessions');
    return {
      withTransaction: async <T>(fn: () => Promise<T>): Promise<T> => {
        let release!: () => void;
        const previous = this.turn;
        this.turn = new Promise<void>((resolve) => (release = resolve));
        await previous;
        const copies = [...this.dbs.values()].flatMap((d) => [...d.collections.values()].map((c) => [c, c.snapshot()] as const));
        try {
          return await fn();
        } catch (error) {
          for (const [c, docs] of copies) c.restore(docs);
          throw error;
        } finally {
          release();
        }
      },
      endSession: async () => {},
    };
  }
  async close() {}
}

function openOnFake(): Promise<MongoStore> {
  const client = new FakeClient() as unknown as MongoClient;
  return MongoStore.open({ url: 'mongodb://stand-in/memtest', client, orphanTimeoutMs: 200, busyTimeoutMs: 5000 });
}

function openOnReplicaSetFake(): Promise<MongoStore> {
  const client = new FakeClient(true) as unknown as MongoClient;
  return MongoStore.open({ url: 'mongodb://stand-in/memtest', client, busyTimeoutMs: 5000 });
}

runStoreContractSuite('mongodb logic on an in-memory stand-in (standalone path)', openOnFake, (store: Store) => (store as MongoStore).drop());
runStoreContractSuite(
  'mongodb logic on an in-memory stand-in (transactional path)',
  openOnReplicaSetFake,
  (store: Store) => (store as MongoStore).drop(),
);

describe('MongoStore standalone path (in-memory stand-in)', () => {
  const msg = (content: string) => ({ id: '', role: Role.ROLE_USER, content, toolCalls: [], toolCallId: '', name: '', isError: false, turnId: '' });

  it('detects a standalone deployment without search and takes the exact paths', async () => {
    const store = await openOnFake();
    try {
      assert.equal(store.transactionsSupported, false);
      assert.equal(store.vectorMode, 'exact');
    } finally {
      await store.drop();
    }
    const replicated = await openOnReplicaSetFake();
    try {
      assert.equal(replicated.transactionsSupported, true);
    } finally {
      await replicated.drop();
    }
  });

  it('lets exactly one of many first writers of a new key or thread win, and loses no plain append', async () => {
    const store = await openOnFake();
    try {
      const puts = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((n) => store.putState({ key: 'fresh', value: { $case: 'structValue', structValue: { n } }, expectedVersion: 0 })),
      );
      assert.equal(puts.filter((p) => p.status === 'fulfilled').length, 1);
      const appends = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((n) => store.appendMessages({ threadId: 'fresh', messages: [msg(`w${n}`)], expectedVersion: 0 })),
      );
      assert.equal(appends.filter((p) => p.status === 'fulfilled').length, 1);
      await Promise.all([1, 2, 3, 4].map((n) => store.appendMessages({ threadId: 'free', messages: [msg(`f${n}`)] })));
      const listed = await store.listMessages({ threadId: 'free', limit: 10, newestFirst: false });
      assert.deepEqual(listed.messages.map((m) => m.content).sort(), ['f1', 'f2', 'f3', 'f4']);
      assert.deepEqual(listed.messages.map((m) => m.sequence), [1, 2, 3, 4]);
    } finally {
      await store.drop();
    }
  });

  it('clears message slots abandoned by a crashed writer and appends after them', async () => {
    const client = new FakeClient();
    const store = await MongoStore.open({ url: 'mongodb://stand-in/memtest', client: client as unknown as MongoClient, orphanTimeoutMs: 100 });
    try {
      await store.appendMessages({ threadId: 't', messages: [msg('a')] });
      // A writer that died after taking slot 2 but before bumping the version.
      const messages = client.db('memtest').collection('messages');
      const incarnation = messages.docs[0].incarnation as string;
      await messages.insertOne({ threadId: 't', incarnation, sequence: 2, id: 'ghost', body: '{}', createTime: new Date(), writtenAt: new Date(Date.now() - 1000), writer: 'dead' });
      const listed = await store.listMessages({ threadId: 't', limit: 10, newestFirst: false });
      assert.deepEqual(listed.messages.map((m) => m.content), ['a'], 'an uncommitted slot is never shown');
      const next = await store.appendMessages({ threadId: 't', messages: [msg('b')], expectedVersion: 1 });
      assert.equal(next.thread.version, 2);
      const after = await store.listMessages({ threadId: 't', limit: 10, newestFirst: false });
      assert.deepEqual(after.messages.map((m) => m.content), ['a', 'b']);
    } finally {
      await store.drop();
    }
  });

  it('replays from the request marker in the thread when the request record was lost', async () => {
    const client = new FakeClient();
    const store = await MongoStore.open({ url: 'mongodb://stand-in/memtest', client: client as unknown as MongoClient });
    try {
      const first = await store.appendMessages({ threadId: 't', messages: [msg('a')], requestId: 'r1' });
      // A crash between the thread's version bump and the request record.
      await client.db('memtest').collection('requests').deleteMany({});
      const retry = await store.appendMessages({ threadId: 't', messages: [msg('a')], requestId: 'r1' });
      assert.equal(retry.replayed, true);
      assert.deepEqual(retry.messages.map((m) => m.id), first.messages.map((m) => m.id));
      assert.equal((await store.getThread('t')).version, 1);
    } finally {
      await store.drop();
    }
  });
});
