// The MongoDB backend (ELIXIRCHAIN_STORE=mongodb://… or MONGODB_URL), with the
// official driver. Collections and indexes are created at open.
//
// Concurrency without locks: every CAS is a conditional single-document write
// (filter on the version read). A thread's messages occupy unique
// (threadId, sequence) slots, so two appenders at one version cannot both
// write sequence v+1: the loser sees a duplicate key, re-reads, and either
// gets ABORTED (its expected_version is stale) or tries again.
//
// Transactions: on replica sets and sharded clusters (detected with `hello`)
// each write, and each atomic batch, runs in one multi-document transaction.
// On a standalone server the same steps run without one, ordered so nothing
// half-written is visible: message slots first (readers only see sequences
// up to the thread's version), then the thread's version bump, which also
// records the request_id in the thread document, atomically with the write.
// Slots abandoned by a crashed writer are cleared after orphanTimeoutMs.
// Atomic batches of several writes are undone by compensation if a later
// operation fails (not crash-proof: use a replica set — a single-node one is
// enough — when atomic batches must survive a crash of this process).
import { randomUUID } from 'node:crypto';
import { Binary, MongoClient } from 'mongodb';
import type { AnyBulkWriteOperation, ClientSession, Collection, Db, Document, Filter } from 'mongodb';
import type {
  AppendMessagesInput,
  AppendMessagesResult,
  BatchWriteInput,
  DeleteNamespaceResult,
  DeleteStateInput,
  DeleteThreadInput,
  JsonObject,
  ListMemoriesInput,
  ListMemoriesResult,
  ListMessagesInput,
  ListMessagesResult,
  ListNamespacesInput,
  ListNamespacesResult,
  ListStateInput,
  ListStateResult,
  ListThreadsInput,
  ListThreadsResult,
  Memory,
  Namespace,
  PutStateInput,
  SearchMemoriesInput,
  SearchMemoriesResult,
  StateEntry,
  Store,
  Thread,
  UpsertMemoriesInput,
  UpsertMemoriesResult,
  WriteOperation,
  WriteOutcome,
} from '../store.js';
import {
  invalidArgument,
  isStoreError,
  memoryNotFound,
  namespaceNotFound,
  requestIdReused,
  StoreError,
  StoreErrorCode,
  stateNotFound,
  threadNotFound,
  versionConflict,
} from '../store-errors.js';
import { validateMetadataFilter } from '../metadata-filter.js';
import { prefixUpperBound } from '../key-range.js';
import { checkVector } from '../vector-check.js';
import { cosineSimilarity, normalise, TopK } from '../postgres/cosine-top-k.js';
import { storeUnavailable } from '../postgres/store-unavailable.js';
import {
  cosineFromVectorSearchScore,
  probeVectorSearch,
  VectorIndexRegistry,
  vectorField,
  vectorSearchPipeline,
} from './atlas-vector-search.js';
import { filterToMongoQuery } from './metadata-filter-query.js';
import { resolveMongoConfig, type MongoStoreOptions, type ResolvedMongoConfig } from './mongo-config.js';
import {
  encodeMessageBody,
  isLive,
  memoryFromDoc,
  messageFromDoc,
  namespaceFromDoc,
  RECENT_REQUESTS_KEPT,
  stateFromDoc,
  threadFromDoc,
  type MemoryDoc,
  type MessageDoc,
  type NamespaceDoc,
  type RecentRequest,
  type RequestDoc,
  type StateDoc,
  type ThreadDoc,
} from './mongo-documents.js';
import { isDuplicateKey, toStoreError } from './mongo-errors.js';

export type { MongoStoreOptions } from './mongo-config.js';

const UPSERT_CHUNK = 1000;

/** Another writer holds the slot or the version we meant to write; re-read and decide. */
class Contention extends Error {
  constructor(readonly resource: 'thread' | 'state', readonly id: string) {
    super(`contention on ${resource} ${id}`);
  }
}

interface AppendOutcome {
  from: number;
  to: number;
  thread: { version: number; metadataJson: string | null; createTime: string; updateTime: string };
}

/** What an applied write needs to be undone (standalone atomic batches). */
type Undo = () => Promise<void>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class MongoStore implements Store {
  readonly kind = 'mongodb';
  readonly config: ResolvedMongoConfig;
  /** Detected at open: replica set or sharded cluster. */
  transactionsSupported = false;
  /** Detected at open: 'atlas' when the deployment serves search indexes. */
  vectorMode: 'atlas' | 'exact' = 'exact';
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly threads: Collection<ThreadDoc>;
  private readonly messages: Collection<MessageDoc>;
  private readonly requests: Collection<RequestDoc>;
  private readonly namespaces: Collection<NamespaceDoc>;
  private readonly memories: Collection<MemoryDoc>;
  private readonly state: Collection<StateDoc>;
  private vectorIndexes: VectorIndexRegistry | undefined;
  private readonly ownsClient: boolean;
  private closed = false;

  static async open(options: MongoStoreOptions): Promise<MongoStore> {
    const store = new MongoStore(options);
    try {
      await store.start();
    } catch (error) {
      await store.close();
      throw toStoreError(error);
    }
    return store;
  }

  private constructor(options: MongoStoreOptions) {
    this.config = resolveMongoConfig(options);
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new MongoClient(this.config.url, {
      appName: 'elixirchain-memory',
      serverSelectionTimeoutMS: this.config.serverSelectionTimeoutMs,
      maxPoolSize: this.config.maxPoolSize,
      retryWrites: true,
      retryReads: true,
    });
    this.db = this.client.db(this.config.database);
    this.threads = this.db.collection<ThreadDoc>('threads');
    this.messages = this.db.collection<MessageDoc>('messages');
    this.requests = this.db.collection<RequestDoc>('requests');
    this.namespaces = this.db.collection<NamespaceDoc>('namespaces');
    this.memories = this.db.collection<MemoryDoc>('memories');
    this.state = this.db.collection<StateDoc>('state');
  }

  private async start(): Promise<void> {
    await this.client.connect();
    const hello = await this.client.db('admin').command({ hello: 1 });
    const replicated = typeof hello.setName === 'string' || hello.msg === 'isdbgrid';
    this.transactionsSupported =
      this.config.transactions === 'auto' && replicated && hello.logicalSessionTimeoutMinutes !== undefined;
    await Promise.all([
      this.messages.createIndexes([{ key: { threadId: 1, sequence: 1 }, name: 'thread_sequence', unique: true }]),
      this.requests.createIndexes([
        { key: { createTime: 1 }, name: 'request_ttl', expireAfterSeconds: Math.ceil(this.config.requestRetentionMs / 1000) },
      ]),
      this.memories.createIndexes([{ key: { nsId: 1, id: 1 }, name: 'namespace_id', unique: true }]),
      // Expired entries read as absent at once; the TTL monitor removes them within about a minute.
      this.state.createIndexes([{ key: { expireTime: 1 }, name: 'state_ttl', expireAfterSeconds: 0 }]),
      this.db.createCollection('threads').catch(() => undefined),
      this.db.createCollection('namespaces').catch(() => undefined),
    ]);
    if (this.config.vectorSearch !== 'exact') {
      const supported = await probeVectorSearch(this.memories as unknown as Collection<Document>);
      if (!supported && this.config.vectorSearch === 'atlas') {
        throw new StoreError(
          StoreErrorCode.FAILED_PRECONDITION,
          'VECTOR_SEARCH_UNAVAILABLE',
          'vectorSearch=atlas but this deployment does not serve search indexes',
        );
      }
      if (supported) {
        this.vectorMode = 'atlas';
        this.vectorIndexes = new VectorIndexRegistry(this.memories as unknown as Collection<Document>);
      }
    }
  }

  // ------------------------------------------------------------ plumbing

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw storeUnavailable('mongodb', 'store is closed');
    try {
      return await fn();
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /** fn in one transaction where the deployment has them; otherwise fn as is (the standalone path). */
  private async unitOfWork<T>(fn: (session: ClientSession | undefined) => Promise<T>): Promise<T> {
    if (!this.transactionsSupported) return fn(undefined);
    const session = this.client.startSession();
    try {
      return await session.withTransaction(() => fn(session), {
        readConcern: { level: 'snapshot' },
        writeConcern: { w: 'majority' },
      });
    } finally {
      await session.endSession();
    }
  }

  /**
   * Runs a write, retrying on contention (a lost slot race, a concurrent
   * first write of a key, a concurrent use of the request_id) until it
   * succeeds, fails for a reason of its own, or busyTimeoutMs passes.
   */
  private async withContention<T>(fn: () => Promise<T>, onContention: (c: Contention) => Promise<void>): Promise<T> {
    const deadline = Date.now() + this.config.busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const contention = error instanceof Contention ? error : isDuplicateKey(error) ? new Contention('state', '') : undefined;
        if (!contention) throw error;
        await onContention(contention);
        if (Date.now() > deadline) throw storeUnavailable('mongodb', `${contention.resource} is busy`);
        await sleep(Math.min(200, 2 ** Math.min(attempt, 8)) + Math.random() * 10);
      }
    }
  }

  private async earlierRequest(requestId: string | undefined, kind: string, target: string, session?: ClientSession): Promise<RequestDoc | undefined> {
    if (!requestId) return undefined;
    const doc = await this.requests.findOne({ _id: requestId }, { session });
    if (doc && (doc.kind !== kind || doc.target !== target)) throw requestIdReused(requestId, `for ${doc.kind} on another target`);
    return doc ?? undefined;
  }

  /** Records a request's outcome. A duplicate means a concurrent twin won: inside a transaction that retries us (and we replay). */
  private async recordRequest(requestId: string | undefined, kind: string, target: string, outcome: unknown, now: Date, session?: ClientSession): Promise<void> {
    if (!requestId) return;
    try {
      await this.requests.insertOne({ _id: requestId, kind, target, outcome: JSON.stringify(outcome), createTime: now }, { session });
    } catch (error) {
      if (!isDuplicateKey(error) || session) throw error;
    }
  }

  // ------------------------------------------------------------ threads

  private async replayAppend(threadId: string, outcome: AppendOutcome | undefined, from: number, to: number, session?: ClientSession): Promise<AppendMessagesResult> {
    const thread = await this.threads.findOne({ _id: threadId }, { session });
    const messages = thread
      ? await this.messages
          .find({ threadId, incarnation: thread.incarnation, sequence: { $gte: from, $lte: Math.min(to, thread.version) } }, { session })
          .sort({ sequence: 1 })
          .toArray()
      : [];
    const recorded: Thread | undefined = outcome
      ? {
          id: threadId,
          version: outcome.thread.version,
          metadata: outcome.thread.metadataJson ? (JSON.parse(outcome.thread.metadataJson) as JsonObject) : undefined,
          createTime: new Date(outcome.thread.createTime),
          updateTime: new Date(outcome.thread.updateTime),
        }
      : undefined;
    return {
      thread: thread ? threadFromDoc(thread) : (recorded ?? { id: threadId, version: 0, createTime: undefined, updateTime: undefined }),
      messages: messages.map(messageFromDoc),
      replayed: true,
    };
  }

  private async appendOnce(input: AppendMessagesInput, now: Date, session: ClientSession | undefined, undo?: Undo[]): Promise<AppendMessagesResult> {
    const threadId = input.threadId;
    const requestId = input.requestId || undefined;
    const earlier = await this.earlierRequest(requestId, 'append', threadId, session);
    if (earlier) {
      const outcome = JSON.parse(earlier.outcome) as AppendOutcome;
      return this.replayAppend(threadId, outcome, outcome.from, outcome.to, session);
    }
    const thread = await this.threads.findOne({ _id: threadId }, { session });
    const recent = requestId ? thread?.recentRequests?.find((r) => r.id === requestId) : undefined;
    if (recent) return this.replayAppend(threadId, undefined, recent.from ?? 1, recent.to ?? 0, session);
    const current = thread?.version ?? 0;
    if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
      throw versionConflict('thread', threadId, input.expectedVersion, current);
    }
    const incarnation = thread?.incarnation ?? randomUUID();
    const writer = randomUUID();
    const docs: MessageDoc[] = input.messages.map((m, i) => ({
      threadId,
      incarnation,
      sequence: current + i + 1,
      id: m.id || randomUUID(),
      body: encodeMessageBody(m),
      createTime: m.createTime ?? now,
      writtenAt: now,
      writer,
    }));
    const version = current + docs.length;
    const releaseSlots = async () => {
      if (!session && docs.length > 0) await this.messages.deleteMany({ threadId, writer });
    };
    if (docs.length > 0) {
      try {
        await this.messages.insertMany(docs, { ordered: true, session });
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        await releaseSlots();
        throw new Contention('thread', threadId);
      }
    }
    const metadata =
      input.threadMetadata && Object.keys(input.threadMetadata).length > 0
        ? JSON.stringify({ ...(thread?.metadataJson ? (JSON.parse(thread.metadataJson) as JsonObject) : {}), ...input.threadMetadata })
        : (thread?.metadataJson ?? null);
    const marker: RecentRequest | undefined = requestId ? { id: requestId, from: current + 1, to: version } : undefined;
    let written: ThreadDoc;
    try {
      if (thread) {
        const update: Document = { $set: { version, metadataJson: metadata, updateTime: now } };
        if (marker) update.$push = { recentRequests: { $each: [marker], $slice: -RECENT_REQUESTS_KEPT } };
        const res = await this.threads.updateOne({ _id: threadId, version: current, incarnation }, update, { session });
        if (res.matchedCount !== 1) throw new Contention('thread', threadId);
        written = { ...thread, version, metadataJson: metadata, updateTime: now };
      } else {
        written = { _id: threadId, version, incarnation, metadataJson: metadata, createTime: now, updateTime: now, recentRequests: marker ? [marker] : [] };
        await this.threads.insertOne(written, { session });
      }
    } catch (error) {
      if (!(error instanceof Contention) && !isDuplicateKey(error)) throw error;
      await releaseSlots();
      throw new Contention('thread', threadId);
    }
    const outcome: AppendOutcome = {
      from: current + 1,
      to: version,
      thread: { version, metadataJson: metadata, createTime: written.createTime.toISOString(), updateTime: now.toISOString() },
    };
    await this.recordRequest(requestId, 'append', threadId, outcome, now, session);
    undo?.push(async () => {
      if (current === 0) await this.threads.deleteOne({ _id: threadId, version, incarnation });
      else {
        await this.threads.updateOne(
          { _id: threadId, version, incarnation },
          { $set: { version: current, metadataJson: thread?.metadataJson ?? null }, $pull: { recentRequests: { id: requestId ?? '' } } },
        );
      }
      await this.messages.deleteMany({ threadId, writer });
      if (requestId) await this.requests.deleteOne({ _id: requestId });
    });
    return { thread: threadFromDoc(written), messages: docs.map(messageFromDoc), replayed: false };
  }

  /**
   * After losing a slot race: a stale expected_version is final (ABORTED);
   * otherwise clear slots nobody will commit (an older incarnation's, or
   * past the version and abandoned) and let the caller try again.
   */
  private async settleThreadContention(threadId: string, expectedVersion: number | undefined): Promise<void> {
    const thread = await this.threads.findOne({ _id: threadId });
    const current = thread?.version ?? 0;
    if (expectedVersion !== undefined && expectedVersion !== current) throw versionConflict('thread', threadId, expectedVersion, current);
    if (this.transactionsSupported) return;
    const abandoned = new Date(Date.now() - this.config.orphanTimeoutMs);
    const orphans: Filter<MessageDoc> = thread
      ? { threadId, $or: [{ incarnation: { $ne: thread.incarnation } }, { sequence: { $gt: current }, writtenAt: { $lt: abandoned } }] }
      : { threadId, writtenAt: { $lt: abandoned } };
    await this.messages.deleteMany(orphans);
  }

  async appendMessages(input: AppendMessagesInput): Promise<AppendMessagesResult> {
    return this.guard(() =>
      this.withContention(
        () => this.unitOfWork((session) => this.appendOnce(input, new Date(), session)),
        () => this.settleThreadContention(input.threadId, input.expectedVersion),
      ),
    );
  }

  private async requireThread(threadId: string): Promise<ThreadDoc> {
    const thread = await this.threads.findOne({ _id: threadId });
    if (!thread || thread.version === 0) throw threadNotFound(threadId);
    return thread;
  }

  async listMessages(input: ListMessagesInput): Promise<ListMessagesResult> {
    return this.guard(async () => {
      const thread = await this.requireThread(input.threadId);
      const limit = Math.max(1, input.limit);
      // Slots past the thread's version are uncommitted (standalone path): never shown.
      const sequence = input.newestFirst
        ? { $lt: Math.min(input.beforeSequence ?? Number.MAX_SAFE_INTEGER, thread.version + 1) }
        : { $gt: input.afterSequence ?? 0, $lte: thread.version };
      const docs = await this.messages
        .find({ threadId: input.threadId, incarnation: thread.incarnation, sequence })
        .sort({ sequence: input.newestFirst ? -1 : 1 })
        .limit(limit + 1)
        .toArray();
      const more = docs.length > limit;
      const page = more ? docs.slice(0, limit) : docs;
      return {
        thread: threadFromDoc(thread),
        messages: page.map(messageFromDoc),
        nextCursor: more ? page[page.length - 1].sequence : undefined,
      };
    });
  }

  async getThread(threadId: string): Promise<Thread> {
    return this.guard(async () => threadFromDoc(await this.requireThread(threadId)));
  }

  async listThreads(input: ListThreadsInput): Promise<ListThreadsResult> {
    return this.guard(async () => {
      const limit = Math.max(1, input.limit);
      const prefix = input.prefix ?? '';
      const upper = prefixUpperBound(prefix);
      const id: Document = { $gt: input.afterId ?? '', $gte: prefix };
      if (upper !== undefined) id.$lt = upper;
      const docs = await this.threads
        .find({ _id: id, version: { $gt: 0 } } as Filter<ThreadDoc>)
        .sort({ _id: 1 })
        .limit(limit + 1)
        .toArray();
      const more = docs.length > limit;
      const page = more ? docs.slice(0, limit) : docs;
      return { threads: page.map(threadFromDoc), nextCursor: more ? page[page.length - 1]._id : undefined };
    });
  }

  private async deleteThreadOnce(input: DeleteThreadInput, now: Date, session: ClientSession | undefined): Promise<{ deleted: boolean }> {
    const earlier = await this.earlierRequest(input.requestId || undefined, 'deleteThread', input.threadId, session);
    if (earlier) return JSON.parse(earlier.outcome) as { deleted: boolean };
    const thread = await this.threads.findOne({ _id: input.threadId }, { session });
    const current = thread?.version ?? 0;
    if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
      throw versionConflict('thread', input.threadId, input.expectedVersion, current);
    }
    if (thread) {
      // The thread goes first: its messages are invisible from then on, and a
      // new thread under this id has a new incarnation.
      const res = await this.threads.deleteOne({ _id: input.threadId, version: current, incarnation: thread.incarnation }, { session });
      if (res.deletedCount !== 1) throw new Contention('thread', input.threadId);
      await this.messages.deleteMany({ threadId: input.threadId, incarnation: thread.incarnation }, { session });
    }
    const outcome = { deleted: current > 0 };
    await this.recordRequest(input.requestId || undefined, 'deleteThread', input.threadId, outcome, now, session);
    return outcome;
  }

  async deleteThread(input: DeleteThreadInput): Promise<{ deleted: boolean }> {
    return this.guard(() =>
      this.withContention(
        () => this.unitOfWork((session) => this.deleteThreadOnce(input, new Date(), session)),
        async () => {},
      ),
    );
  }

  // ------------------------------------------------------------ memories

  private async memoryCount(nsId: string): Promise<number> {
    return this.memories.countDocuments({ nsId });
  }

  private async requireNamespace(name: string): Promise<NamespaceDoc> {
    const ns = await this.namespaces.findOne({ _id: name });
    if (!ns) throw namespaceNotFound(name);
    return ns;
  }

  private validateVectors(input: UpsertMemoriesInput, dimensions: number): number[][] {
    return input.memories.map((m, i) => Array.from(checkVector(m.vector, dimensions, `memories[${i}].vector`, input.namespace)));
  }

  async upsertMemories(input: UpsertMemoriesInput): Promise<UpsertMemoriesResult> {
    return this.guard(async () => {
      const requestId = input.requestId || undefined;
      const earlier = await this.earlierRequest(requestId, 'upsert', input.namespace);
      if (earlier) return this.replayUpsert(input.namespace, JSON.parse(earlier.outcome) as string[]);
      const now = new Date();
      let ns = await this.namespaces.findOne({ _id: input.namespace });
      // Every vector is checked before anything is written: a bad batch writes nothing.
      let vectors: number[][];
      if (ns) {
        vectors = this.validateVectors(input, ns.dimensions);
      } else {
        if (!(Number.isInteger(input.dimensions) && input.dimensions > 0)) {
          throw invalidArgument('dimensions', 'must be a positive integer for a new namespace');
        }
        vectors = this.validateVectors(input, input.dimensions);
        const created: NamespaceDoc = {
          _id: input.namespace,
          nsId: randomUUID(),
          embedder: input.embedder,
          dimensions: input.dimensions,
          createTime: now,
        };
        try {
          await this.namespaces.insertOne(created);
          ns = created;
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
          ns = await this.requireNamespace(input.namespace);
          vectors = this.validateVectors(input, ns.dimensions);
        }
      }
      const field = vectorField(ns.dimensions);
      const nsId = ns.nsId;
      const ops: AnyBulkWriteOperation<MemoryDoc>[] = input.memories.map((m, i) => {
        const set: Document = { text: m.text, [field]: vectors[i], updateTime: now };
        const update: Document = { $set: set, $setOnInsert: { createTime: now } };
        if (m.metadata === undefined) update.$unset = { metadata: '' };
        else set.metadata = m.metadata;
        return { updateOne: { filter: { nsId, id: m.id }, update, upsert: true } };
      });
      // Ordered: a repeated id in one batch ends as its last occurrence.
      for (let start = 0; start < ops.length; start += UPSERT_CHUNK) {
        await this.memories.bulkWrite(ops.slice(start, start + UPSERT_CHUNK), { ordered: true });
      }
      const ids = input.memories.map((m) => m.id);
      const createTimes = new Map<string, Date>();
      for (let start = 0; start < ids.length; start += UPSERT_CHUNK) {
        const found = await this.memories
          .find({ nsId, id: { $in: ids.slice(start, start + UPSERT_CHUNK) } }, { projection: { _id: 0, id: 1, createTime: 1 } })
          .toArray();
        for (const f of found) createTimes.set(f.id, f.createTime);
      }
      await this.recordRequest(requestId, 'upsert', input.namespace, ids, now);
      if (this.vectorIndexes) void this.vectorIndexes.ensure(ns.dimensions);
      const memories: Memory[] = input.memories.map((m) => ({
        id: m.id,
        namespace: input.namespace,
        text: m.text,
        metadata: m.metadata,
        vector: [],
        createTime: createTimes.get(m.id) ?? now,
        updateTime: now,
      }));
      return { memories, namespace: namespaceFromDoc(ns, await this.memoryCount(nsId)) };
    });
  }

  private async replayUpsert(namespace: string, ids: string[]): Promise<UpsertMemoriesResult> {
    const ns = await this.requireNamespace(namespace);
    const docs = await this.memories.find({ nsId: ns.nsId, id: { $in: ids } }, { projection: { _id: 0 } }).toArray();
    const byId = new Map(docs.map((d) => [d.id, d]));
    const memories = ids.flatMap((id) => {
      const doc = byId.get(id);
      return doc ? [memoryFromDoc(namespace, doc, undefined)] : [];
    });
    return { memories, namespace: namespaceFromDoc(ns, await this.memoryCount(ns.nsId)) };
  }

  private scopedQuery(nsId: string, filter: SearchMemoriesInput['filter']): Filter<MemoryDoc> {
    const query = filterToMongoQuery(filter);
    return (Object.keys(query).length === 0 ? { nsId } : { $and: [{ nsId }, query] }) as Filter<MemoryDoc>;
  }

  async searchMemories(input: SearchMemoriesInput): Promise<SearchMemoriesResult> {
    return this.guard(async () => {
      validateMetadataFilter(input.filter);
      const ns = await this.requireNamespace(input.namespace);
      const query = checkVector(input.vector, ns.dimensions, 'query_vector', ns._id);
      const topK = Math.max(1, input.topK);
      const field = vectorField(ns.dimensions);
      const unfiltered = Object.keys(filterToMongoQuery(input.filter)).length === 0;
      // $vectorSearch pre-filters only on indexed fields (nsId here); metadata
      // filters take the exact scan over the filtered candidates instead.
      const ann = this.vectorIndexes && unfiltered && (await this.vectorIndexes.isQueryable(ns.dimensions));
      const ranked = ann ? await this.rankWithVectorSearch(ns, query, topK, input.minScore) : await this.rankExactly(ns, query, topK, input);
      if (ranked.length === 0) return { results: [], namespace: namespaceFromDoc(ns, await this.memoryCount(ns.nsId)) };
      const projection: Document = { _id: 0 };
      if (!input.includeVectors) projection[field] = 0;
      const docs = await this.memories.find({ nsId: ns.nsId, id: { $in: ranked.map((r) => r.id) } }, { projection }).toArray();
      const byId = new Map(docs.map((d) => [d.id, d]));
      const results = ranked.flatMap((r) => {
        const doc = byId.get(r.id);
        return doc ? [{ memory: memoryFromDoc(ns._id, doc, input.includeVectors ? field : undefined), score: r.score }] : [];
      });
      return { results, namespace: namespaceFromDoc(ns, await this.memoryCount(ns.nsId)) };
    });
  }

  private async rankExactly(ns: NamespaceDoc, query: Float32Array, topK: number, input: SearchMemoriesInput): Promise<Array<{ id: string; score: number }>> {
    const unit = normalise(query);
    const field = vectorField(ns.dimensions);
    const top = new TopK<string>(topK, input.minScore ?? Number.NEGATIVE_INFINITY);
    const cursor = this.memories
      .find(this.scopedQuery(ns.nsId, input.filter), { projection: { _id: 0, id: 1, [field]: 1 } })
      .batchSize(this.config.scanBatchRows);
    for await (const doc of cursor) {
      const vector = (doc as unknown as Record<string, unknown>)[field];
      if (Array.isArray(vector) && vector.length === ns.dimensions) {
        top.offer({ key: doc.id, id: doc.id, score: cosineSimilarity(unit, vector as number[]) });
      }
    }
    return top.result().map((r) => ({ id: r.id, score: r.score }));
  }

  private async rankWithVectorSearch(ns: NamespaceDoc, query: Float32Array, topK: number, minScore: number | undefined): Promise<Array<{ id: string; score: number }>> {
    const rows = await this.memories
      .aggregate<{ id: string; score: number }>(vectorSearchPipeline({ dimensions: ns.dimensions, nsId: ns.nsId, query, topK }))
      .toArray();
    return rows
      .map((r) => ({ id: r.id, score: cosineFromVectorSearchScore(r.score) }))
      .filter((r) => minScore === undefined || r.score >= minScore)
      .sort((a, b) => b.score - a.score || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)));
  }

  async getMemory(namespace: string, id: string, includeVector = false): Promise<Memory> {
    return this.guard(async () => {
      const ns = await this.requireNamespace(namespace);
      const field = vectorField(ns.dimensions);
      const projection: Document = { _id: 0 };
      if (!includeVector) projection[field] = 0;
      const doc = await this.memories.findOne({ nsId: ns.nsId, id }, { projection });
      if (!doc) throw memoryNotFound(namespace, id);
      return memoryFromDoc(namespace, doc, includeVector ? field : undefined);
    });
  }

  async listMemories(input: ListMemoriesInput): Promise<ListMemoriesResult> {
    return this.guard(async () => {
      validateMetadataFilter(input.filter);
      const ns = await this.requireNamespace(input.namespace);
      const field = vectorField(ns.dimensions);
      const limit = Math.max(1, input.limit);
      const projection: Document = { _id: 0 };
      if (!input.includeVectors) projection[field] = 0;
      const docs = await this.memories
        .find({ $and: [this.scopedQuery(ns.nsId, input.filter), { id: { $gt: input.afterId ?? '' } }] } as Filter<MemoryDoc>, { projection })
        .sort({ id: 1 })
        .limit(limit + 1)
        .toArray();
      const more = docs.length > limit;
      const page = more ? docs.slice(0, limit) : docs;
      return {
        memories: page.map((d) => memoryFromDoc(ns._id, d, input.includeVectors ? field : undefined)),
        nextCursor: more ? page[page.length - 1].id : undefined,
      };
    });
  }

  async deleteMemory(namespace: string, id: string): Promise<{ deleted: boolean }> {
    return this.guard(async () => {
      const ns = await this.namespaces.findOne({ _id: namespace });
      if (!ns) return { deleted: false };
      const res = await this.memories.deleteOne({ nsId: ns.nsId, id });
      return { deleted: res.deletedCount === 1 };
    });
  }

  async getNamespace(namespace: string): Promise<Namespace> {
    return this.guard(async () => {
      const ns = await this.requireNamespace(namespace);
      return namespaceFromDoc(ns, await this.memoryCount(ns.nsId));
    });
  }

  async listNamespaces(input: ListNamespacesInput): Promise<ListNamespacesResult> {
    return this.guard(async () => {
      const limit = Math.max(1, input.limit);
      const docs = await this.namespaces
        .find({ _id: { $gt: input.afterName ?? '' } })
        .sort({ _id: 1 })
        .limit(limit + 1)
        .toArray();
      const more = docs.length > limit;
      const page = more ? docs.slice(0, limit) : docs;
      const namespaces: Namespace[] = [];
      for (const ns of page) namespaces.push(namespaceFromDoc(ns, await this.memoryCount(ns.nsId)));
      return { namespaces, nextCursor: more ? page[page.length - 1]._id : undefined };
    });
  }

  async deleteNamespace(namespace: string): Promise<DeleteNamespaceResult> {
    return this.guard(async () => {
      const ns = await this.namespaces.findOne({ _id: namespace });
      if (!ns) return { deleted: false, deletedMemories: 0 };
      // The namespace goes first, so its memories are unreachable at once (and
      // a namespace re-created under the name gets a new nsId).
      const res = await this.namespaces.deleteOne({ _id: namespace, nsId: ns.nsId });
      if (res.deletedCount !== 1) return { deleted: false, deletedMemories: 0 };
      const removed = await this.memories.deleteMany({ nsId: ns.nsId });
      return { deleted: true, deletedMemories: removed.deletedCount };
    });
  }

  // ------------------------------------------------------------ state

  private async putStateOnce(input: PutStateInput, now: Date, session: ClientSession | undefined, undo?: Undo[]): Promise<StateEntry> {
    const requestId = input.requestId || undefined;
    const earlier = await this.earlierRequest(requestId, 'putState', input.key, session);
    const doc = await this.state.findOne({ _id: input.key }, { session });
    const recent = requestId ? doc?.recentRequests?.find((r) => r.id === requestId) : undefined;
    if (earlier || recent) {
      const version = recent?.version ?? (JSON.parse(earlier?.outcome ?? '{}') as { version?: number }).version ?? 0;
      if (isLive(doc, now) && doc.version === version) return stateFromDoc(doc);
      return { key: input.key, value: undefined, version, createTime: undefined, updateTime: undefined, expireTime: undefined };
    }
    const live = isLive(doc, now) ? doc : undefined;
    const current = live?.version ?? 0;
    if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
      throw versionConflict('state', input.key, input.expectedVersion, current);
    }
    const next: StateDoc = {
      _id: input.key,
      kind: input.value.$case === 'bytesValue' ? 'b' : 's',
      version: current + 1,
      createTime: live?.createTime ?? now,
      updateTime: now,
      expireTime: input.ttlMs === undefined ? null : new Date(now.getTime() + input.ttlMs),
      recentRequests: requestId ? [...(doc?.recentRequests ?? []), { id: requestId, version: current + 1 }].slice(-RECENT_REQUESTS_KEPT) : (doc?.recentRequests ?? []),
    };
    if (input.value.$case === 'bytesValue') next.bytes = new Binary(input.value.bytesValue);
    else next.struct = JSON.stringify(input.value.structValue ?? {});
    if (doc) {
      // Conditional on the version read (expired or not): a concurrent write makes this match nothing.
      const res = await this.state.replaceOne({ _id: input.key, version: doc.version }, next, { session });
      if (res.matchedCount !== 1) throw new Contention('state', input.key);
    } else {
      try {
        await this.state.insertOne(next, { session });
      } catch (error) {
        if (isDuplicateKey(error)) throw new Contention('state', input.key);
        throw error;
      }
    }
    await this.recordRequest(requestId, 'putState', input.key, { version: next.version }, now, session);
    undo?.push(async () => {
      if (doc) await this.state.replaceOne({ _id: input.key, version: next.version }, doc);
      else await this.state.deleteOne({ _id: input.key, version: next.version });
      if (requestId) await this.requests.deleteOne({ _id: requestId });
    });
    return stateFromDoc(next);
  }

  private async deleteStateOnce(input: DeleteStateInput, now: Date, session: ClientSession | undefined, undo?: Undo[]): Promise<{ deleted: boolean }> {
    const requestId = input.requestId || undefined;
    const earlier = await this.earlierRequest(requestId, 'deleteState', input.key, session);
    if (earlier) return JSON.parse(earlier.outcome) as { deleted: boolean };
    const doc = await this.state.findOne({ _id: input.key }, { session });
    const live = isLive(doc, now) ? doc : undefined;
    const current = live?.version ?? 0;
    if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
      throw versionConflict('state', input.key, input.expectedVersion, current);
    }
    if (doc) {
      // Also drops an expired document, which reads as absent anyway.
      const res = await this.state.deleteOne({ _id: input.key, version: doc.version }, { session });
      if (res.deletedCount !== 1) throw new Contention('state', input.key);
    }
    const outcome = { deleted: live !== undefined };
    await this.recordRequest(requestId, 'deleteState', input.key, outcome, now, session);
    undo?.push(async () => {
      if (doc) await this.state.insertOne(doc).catch((error: unknown) => (isDuplicateKey(error) ? undefined : Promise.reject(error)));
      if (requestId) await this.requests.deleteOne({ _id: requestId });
    });
    return outcome;
  }

  async putState(input: PutStateInput): Promise<StateEntry> {
    return this.guard(() =>
      this.withContention(
        () => this.unitOfWork((session) => this.putStateOnce(input, new Date(), session)),
        async () => this.settleStateContention(input.key, input.expectedVersion),
      ),
    );
  }

  /** A lost race on a key: final for a CAS whose expected version is now stale. */
  private async settleStateContention(key: string, expectedVersion: number | undefined): Promise<void> {
    if (expectedVersion === undefined) return;
    const doc = await this.state.findOne({ _id: key });
    const current = isLive(doc, new Date()) ? doc.version : 0;
    if (expectedVersion !== current) throw versionConflict('state', key, expectedVersion, current);
  }

  async getState(key: string): Promise<StateEntry> {
    return this.guard(async () => {
      const doc = await this.state.findOne({ _id: key });
      if (!isLive(doc, new Date())) throw stateNotFound(key);
      return stateFromDoc(doc);
    });
  }

  async listState(input: ListStateInput): Promise<ListStateResult> {
    return this.guard(async () => {
      const limit = Math.max(1, input.limit);
      const upper = prefixUpperBound(input.prefix);
      const key: Document = { $gt: input.afterKey ?? '', $gte: input.prefix };
      if (upper !== undefined) key.$lt = upper;
      const now = new Date();
      const projection: Document = { recentRequests: 0 };
      if (input.keysOnly) Object.assign(projection, { bytes: 0, struct: 0 });
      const docs = await this.state
        .find({ _id: key, $or: [{ expireTime: null }, { expireTime: { $gt: now } }] } as Filter<StateDoc>, { projection })
        .sort({ _id: 1 })
        .limit(limit + 1)
        .toArray();
      const more = docs.length > limit;
      const page = more ? docs.slice(0, limit) : docs;
      return {
        entries: page.map((d) => stateFromDoc(d, !input.keysOnly)),
        nextCursor: more ? page[page.length - 1]._id : undefined,
      };
    });
  }

  async deleteState(input: DeleteStateInput): Promise<{ deleted: boolean }> {
    return this.guard(() =>
      this.withContention(
        () => this.unitOfWork((session) => this.deleteStateOnce(input, new Date(), session)),
        async () => this.settleStateContention(input.key, input.expectedVersion),
      ),
    );
  }

  // ------------------------------------------------------------ batches

  private async applyOnce(op: WriteOperation, now: Date, session: ClientSession | undefined, undo?: Undo[]): Promise<WriteOutcome> {
    switch (op.$case) {
      case 'appendMessages':
        return { $case: 'appendMessages', appendMessages: await this.appendOnce(op.appendMessages, now, session, undo) };
      case 'putState':
        return { $case: 'putState', putState: await this.putStateOnce(op.putState, now, session, undo) };
      case 'deleteState':
        return { $case: 'deleteState', deleteState: await this.deleteStateOnce(op.deleteState, now, session, undo) };
    }
  }

  private async applyAlone(op: WriteOperation): Promise<WriteOutcome> {
    switch (op.$case) {
      case 'appendMessages':
        return { $case: 'appendMessages', appendMessages: await this.appendMessages(op.appendMessages) };
      case 'putState':
        return { $case: 'putState', putState: await this.putState(op.putState) };
      case 'deleteState':
        return { $case: 'deleteState', deleteState: await this.deleteState(op.deleteState) };
    }
  }

  /**
   * Atomic: one transaction where the deployment has them; on a standalone
   * server, in order with compensation of the applied prefix when one fails.
   * Non-atomic: each operation on its own, failures reported in place.
   */
  async batchWrite(input: BatchWriteInput): Promise<WriteOutcome[]> {
    if (!input.atomic || input.operations.length <= 1) {
      const out: WriteOutcome[] = [];
      for (const op of input.operations) {
        try {
          out.push(await this.applyAlone(op));
        } catch (error) {
          if (!isStoreError(error) || input.atomic) throw tagIndex(error, out.length);
          out.push({ $case: 'error', error });
        }
      }
      return out;
    }
    return this.guard(() =>
      this.withContention(
        async () => {
          const now = new Date();
          const undo: Undo[] = [];
          let index = 0;
          try {
            return await this.unitOfWork(async (session) => {
              const out: WriteOutcome[] = [];
              for (index = 0; index < input.operations.length; index++) {
                out.push(await this.applyOnce(input.operations[index], now, session, session ? undefined : undo));
              }
              return out;
            });
          } catch (error) {
            for (const step of undo.reverse()) await step();
            throw error instanceof Contention ? error : tagIndex(error, index);
          }
        },
        async () => {},
      ),
    );
  }

  // ------------------------------------------------------------ lifecycle

  /** Drops the whole database (tests); the store is closed afterwards. */
  async drop(): Promise<void> {
    if (!this.closed) await this.db.dropDatabase();
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await this.client.close();
  }
}

function tagIndex(error: unknown, index: number): unknown {
  if (isStoreError(error)) {
    error.metadata.operationIndex = String(index);
    error.metadata.operation_index = String(index);
  }
  return error;
}
