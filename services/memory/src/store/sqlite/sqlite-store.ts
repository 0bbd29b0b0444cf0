// The embedded default backend: one SQLite file (memory.db) with sqlite-vec.
//
// Durability: WAL with synchronous=NORMAL by default. A commit is in the WAL
// (the OS page cache) before the call returns, so an acknowledged write
// survives kill -9 of this process; only an OS crash or power loss can lose
// the last commits. synchronous=FULL (fsync per commit) closes that gap at a
// cost per commit; choose it with options.synchronous or
// ELIXIRCHAIN_SQLITE_SYNCHRONOUS=FULL.
//
// Concurrency: DatabaseSync is synchronous, so every store call runs its
// transaction in one slice of the event loop and a compare-and-set cannot
// interleave with another in this process; BEGIN IMMEDIATE also makes it safe
// against another process on the same file. Work that could take long (large
// upserts, namespace deletion, sweeps) runs in slices of `sliceRows` rows with
// a yield to the event loop between slices.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import * as sqliteVec from 'sqlite-vec';
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
  stateNotFound,
  threadNotFound,
  versionConflict,
} from '../store-errors.js';
import { validateMetadataFilter } from '../metadata-filter.js';
import type { MetadataFilter } from '@elixirchain/proto/memory';
import { prefixUpperBound } from '../key-range.js';
import { checkVector } from '../vector-check.js';
import { filterToSql, type SqlParam } from './metadata-filter-sql.js';
import { decodeMessage, encodeMessageBody, storedMessage, type MessageRow } from './message-codec.js';
import { chooseIndexProbe, filterFields, flattenMetadata, type FieldColumn, type SlotSelection } from './metadata-index.js';
import { migrate } from './migrations.js';
import { VectorCache, type NamespaceVectors } from './vector-cache.js';

export interface SqliteStoreOptions {
  /** Directory for memory.db (created if missing). Default: ELIXIRCHAIN_DATA_DIR or ./.elixirchain. */
  dataDir?: string;
  /** Explicit database file; overrides dataDir. ':memory:' for a throwaway store. */
  path?: string;
  synchronous?: 'NORMAL' | 'FULL';
  /** Rows per synchronous slice for large upserts and deletes. */
  sliceRows?: number;
  /** How long request_id outcomes are kept for replay. */
  requestRetentionMs?: number;
  /** Interval of the background sweep (expired state, old request ids, orphaned memories); 0 disables. */
  sweepIntervalMs?: number;
  /**
   * Bytes of in-memory vector copies used to rank search candidates
   * (default ELIXIRCHAIN_MEMORY_VECTOR_CACHE_BYTES or 512 MiB; 0: rank in SQL with sqlite-vec).
   */
  vectorCacheBytes?: number;
  /** Namespaces smaller than this are ranked in SQL (default 1000). */
  vectorCacheMinRows?: number;
}

interface ThreadRow {
  id: string;
  version: number;
  metadata: string | null;
  create_time: number;
  update_time: number;
}

interface NamespaceRow {
  ns_id: number;
  name: string;
  embedder: string;
  dimensions: number;
  memory_count: number;
  create_time: number;
}

interface MemoryRow {
  rowid: number;
  id: string;
  text: string;
  metadata: string | null;
  vector?: Uint8Array;
  create_time: number;
  update_time: number;
  distance?: number;
}

interface StateRow {
  key: string;
  kind: string;
  value: Uint8Array | string | null;
  version: number;
  create_time: number;
  update_time: number;
  expire_time: number | null;
}

interface RequestRow {
  kind: string;
  target: string;
  outcome: string;
}

const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER;
const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * WAL frames (pages) after which a commit also checkpoints: copies the newest
 * version of every page in the WAL into the database file. SQLite's default
 * (1,000 pages, 4 MB) made every few agent-turn group commits pay a
 * checkpoint on the event loop, rewriting the same hot pages (thread records,
 * request-id and index leaves) again and again; at 10,000 (a WAL of ~40 MB,
 * reused in place after each checkpoint) a page rewritten by many commits is
 * copied once. Durability is unchanged: a commit is in the WAL before it is
 * acknowledged either way, and opening after kill -9 replays the WAL.
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function vectorBlob(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function blobToVector(blob: Uint8Array): number[] {
  const copy = new Uint8Array(blob); // aligned copy
  return Array.from(new Float32Array(copy.buffer, 0, copy.byteLength / 4));
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly sliceRows: number;
  private readonly requestRetentionMs: number;
  private readonly stmts: ReturnType<SqliteStore['prepareStatements']>;
  private readonly dynamic = new Map<string, StatementSync>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private queuedBatches: Array<{ input: BatchWriteInput; resolve: (outcomes: WriteOutcome[]) => void; reject: (error: unknown) => void }> = [];
  private readonly vectors: VectorCache;
  private readonly vectorCacheMinRows: number;
  private dataVersion = -1;
  private readonly vectorLoads = new Map<number, Promise<void>>();
  private readonly columnLoads = new Map<FieldColumn, Promise<void>>();

  static async open(options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    return new SqliteStore(options);
  }

  constructor(options: SqliteStoreOptions = {}) {
    if (options.path) {
      this.path = options.path;
    } else {
      const dir = options.dataDir ?? process.env.ELIXIRCHAIN_DATA_DIR ?? './.elixirchain';
      mkdirSync(dir, { recursive: true });
      this.path = path.join(dir, 'memory.db');
    }
    const synchronous = options.synchronous ?? (process.env.ELIXIRCHAIN_SQLITE_SYNCHRONOUS === 'FULL' ? 'FULL' : 'NORMAL');
    this.sliceRows = options.sliceRows ?? 250;
    this.requestRetentionMs = options.requestRetentionMs ?? DAY_MS;
    const envVectorBytes = Number(process.env.ELIXIRCHAIN_MEMORY_VECTOR_CACHE_BYTES);
    this.vectors = new VectorCache(
      options.vectorCacheBytes ?? (Number.isFinite(envVectorBytes) && envVectorBytes >= 0 ? envVectorBytes : 512 * 1024 * 1024),
    );
    this.vectorCacheMinRows = options.vectorCacheMinRows ?? 1000;
    this.db = new DatabaseSync(this.path, { allowExtension: true });
    this.db.loadExtension(sqliteVec.getLoadablePath());
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = ${synchronous};
      PRAGMA busy_timeout = 5000;
      PRAGMA foreign_keys = OFF;
      PRAGMA cache_size = -65536;
      PRAGMA temp_store = MEMORY;
      PRAGMA mmap_size = 1073741824;
      PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES};
    `);
    migrate(this.db);
    this.stmts = this.prepareStatements();
    const sweepMs = options.sweepIntervalMs ?? 60_000;
    if (sweepMs > 0) {
      this.sweepTimer = setInterval(() => {
        this.sweep().catch(() => {
          // A failed sweep is retried on the next tick; it never affects callers.
        });
      }, sweepMs);
      this.sweepTimer.unref();
    }
  }

  private prepareStatements() {
    const db = this.db;
    return {
      getThread: db.prepare('SELECT * FROM threads WHERE id = ?'),
      insertThread: db.prepare('INSERT INTO threads (id, version, metadata, create_time, update_time) VALUES (?, ?, ?, ?, ?)'),
      updateThread: db.prepare('UPDATE threads SET version = ?, metadata = ?, update_time = ? WHERE id = ?'),
      deleteThread: db.prepare('DELETE FROM threads WHERE id = ?'),
      deleteMessages: db.prepare('DELETE FROM messages WHERE thread_id = ?'),
      insertMessage: db.prepare('INSERT INTO messages (thread_id, sequence, id, body, create_time) VALUES (?, ?, ?, ?, ?)'),
      listMessagesAsc: db.prepare(
        'SELECT * FROM messages WHERE thread_id = ? AND sequence > ? ORDER BY sequence ASC LIMIT ?',
      ),
      listMessagesDesc: db.prepare(
        'SELECT * FROM messages WHERE thread_id = ? AND sequence < ? ORDER BY sequence DESC LIMIT ?',
      ),
      messagesInRange: db.prepare(
        'SELECT * FROM messages WHERE thread_id = ? AND sequence BETWEEN ? AND ? ORDER BY sequence',
      ),
      listThreads: db.prepare('SELECT * FROM threads WHERE id > ? AND id >= ? ORDER BY id LIMIT ?'),
      listThreadsBounded: db.prepare('SELECT * FROM threads WHERE id > ? AND id >= ? AND id < ? ORDER BY id LIMIT ?'),

      getRequest: db.prepare('SELECT kind, target, outcome FROM requests WHERE request_id = ?'),
      insertRequest: db.prepare(
        'INSERT INTO requests (request_id, kind, target, outcome, create_time) VALUES (?, ?, ?, ?, ?)',
      ),
      pruneRequests: db.prepare(
        'DELETE FROM requests WHERE request_id IN (SELECT request_id FROM requests WHERE create_time < ? LIMIT ?)',
      ),

      getNamespace: db.prepare('SELECT * FROM namespaces WHERE name = ?'),
      insertNamespace: db.prepare(
        'INSERT INTO namespaces (name, embedder, dimensions, memory_count, create_time) VALUES (?, ?, ?, 0, ?) RETURNING *',
      ),
      bumpNamespaceCount: db.prepare('UPDATE namespaces SET memory_count = memory_count + ? WHERE ns_id = ?'),
      deleteNamespace: db.prepare('DELETE FROM namespaces WHERE ns_id = ?'),
      listNamespaces: db.prepare('SELECT * FROM namespaces WHERE name > ? ORDER BY name LIMIT ?'),
      orphanMemories: db.prepare(
        'SELECT rowid FROM memories WHERE ns_id NOT IN (SELECT ns_id FROM namespaces) LIMIT ?',
      ),

      findMemory: db.prepare('SELECT rowid, create_time FROM memories WHERE ns_id = ? AND id = ?'),
      insertMemory: db.prepare(
        'INSERT INTO memories (ns_id, id, text, metadata, create_time, update_time) VALUES (?, ?, ?, jsonb(?), ?, ?) RETURNING rowid',
      ),
      updateMemory: db.prepare('UPDATE memories SET text = ?, metadata = jsonb(?), update_time = ? WHERE rowid = ?'),
      putVector: db.prepare('INSERT OR REPLACE INTO memory_vectors (rowid, vector) VALUES (?, ?)'),
      insertField: db.prepare('INSERT OR REPLACE INTO memory_fields (mem_rowid, path, ns_id, kind, value) VALUES (?, ?, ?, ?, ?)'),
      deleteFields: db.prepare('DELETE FROM memory_fields WHERE mem_rowid = ?'),
      deleteVector: db.prepare('DELETE FROM memory_vectors WHERE rowid = ?'),
      deleteMemoryRow: db.prepare('DELETE FROM memories WHERE rowid = ?'),
      dataVersion: db.prepare('PRAGMA data_version'),
      vectorSlice: db.prepare(`
        SELECT m.rowid, v.vector FROM memories m JOIN memory_vectors v ON v.rowid = m.rowid
        WHERE m.ns_id = ? AND m.rowid > ? ORDER BY m.rowid LIMIT ?`),
      // One metadata field of a namespace's memories, for the in-memory columns (integers as REAL: JS numbers).
      fieldSlice: db.prepare(`
        SELECT rowid, json_type(metadata, ?1) AS t,
               CASE json_type(metadata, ?2) WHEN 'integer' THEN CAST(json_extract(metadata, ?3) AS REAL) ELSE json_extract(metadata, ?3) END AS v
        FROM memories WHERE ns_id = ?4 AND rowid > ?5 ORDER BY rowid LIMIT ?6`),
      vectorsByRowid: db.prepare('SELECT rowid, vector FROM memory_vectors WHERE rowid IN (SELECT value FROM json_each(?))'),
      memoriesByRowid: db.prepare(`
        SELECT rowid, id, text, json(metadata) AS metadata, create_time, update_time
        FROM memories WHERE rowid IN (SELECT value FROM json_each(?))`),
      memoriesByRowidWithVector: db.prepare(`
        SELECT m.rowid, m.id, m.text, json(m.metadata) AS metadata, m.create_time, m.update_time, v.vector
        FROM memories m JOIN memory_vectors v ON v.rowid = m.rowid WHERE m.rowid IN (SELECT value FROM json_each(?))`),
      getMemory: db.prepare(
        'SELECT rowid, id, text, json(metadata) AS metadata, create_time, update_time FROM memories WHERE ns_id = ? AND id = ?',
      ),
      getMemoryWithVector: db.prepare(`
        SELECT m.rowid, m.id, m.text, json(m.metadata) AS metadata, v.vector, m.create_time, m.update_time
        FROM memories m JOIN memory_vectors v ON v.rowid = m.rowid WHERE m.ns_id = ? AND m.id = ?`),

      getState: db.prepare('SELECT * FROM state WHERE key = ?'),
      getStateVersion: db.prepare('SELECT version, create_time, expire_time FROM state WHERE key = ?'),
      upsertState: db.prepare(`
        INSERT INTO state (key, kind, value, version, create_time, update_time, expire_time)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, value = excluded.value, version = excluded.version,
          create_time = excluded.create_time, update_time = excluded.update_time, expire_time = excluded.expire_time`),
      deleteState: db.prepare('DELETE FROM state WHERE key = ?'),
      deleteExpiredState: db.prepare(
        'DELETE FROM state WHERE key IN (SELECT key FROM state WHERE expire_time IS NOT NULL AND expire_time <= ? LIMIT ?)',
      ),
    };
  }

  // ------------------------------------------------------------ plumbing

  private ensureOpen(): void {
    if (this.closed) throw new Error('SqliteStore is closed');
    // Batches queued for group commit take effect before any later call.
    if (this.queuedBatches.length > 0) this.flushBatches();
  }

  /** Runs fn in one IMMEDIATE transaction (synchronously, so nothing interleaves). */
  private tx<T>(fn: () => T): T {
    this.ensureOpen();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  private dynamicStatement(sql: string): StatementSync {
    let stmt = this.dynamic.get(sql);
    if (!stmt) {
      if (this.dynamic.size >= 256) this.dynamic.delete(this.dynamic.keys().next().value as string);
      stmt = this.db.prepare(sql);
      this.dynamic.set(sql, stmt);
    }
    return stmt;
  }

  private checkRequest(requestId: string | undefined, kind: string, target: string): RequestRow | undefined {
    if (!requestId) return undefined;
    const row = this.stmts.getRequest.get(requestId) as RequestRow | undefined;
    if (row && (row.kind !== kind || row.target !== target)) {
      throw requestIdReused(requestId, `for ${row.kind} on another target`);
    }
    return row;
  }

  private recordRequest(requestId: string | undefined, kind: string, target: string, outcome: unknown, now: number): void {
    if (requestId) this.stmts.insertRequest.run(requestId, kind, target, JSON.stringify(outcome), now);
  }

  // ------------------------------------------------------------ threads

  private threadFromRow(row: ThreadRow): Thread {
    return {
      id: row.id,
      version: row.version,
      metadata: row.metadata ? (JSON.parse(row.metadata) as JsonObject) : undefined,
      createTime: new Date(row.create_time),
      updateTime: new Date(row.update_time),
    };
  }

  private appendSync(input: AppendMessagesInput, now: number): AppendMessagesResult {
    const previous = this.checkRequest(input.requestId, 'append', input.threadId);
    if (previous) {
      const outcome = JSON.parse(previous.outcome) as { from: number; to: number; thread: ThreadRow };
      const row = this.stmts.getThread.get(input.threadId) as ThreadRow | undefined;
      const rows = this.stmts.messagesInRange.all(input.threadId, outcome.from, outcome.to) as unknown as MessageRow[];
      return {
        thread: this.threadFromRow(row ?? outcome.thread),
        messages: rows.map(decodeMessage),
        replayed: true,
      };
    }
    const row = this.stmts.getThread.get(input.threadId) as ThreadRow | undefined;
    const current = row?.version ?? 0;
    if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
      throw versionConflict('thread', input.threadId, input.expectedVersion, current);
    }
    const version = current + input.messages.length;
    const mergedMetadata =
      input.threadMetadata && Object.keys(input.threadMetadata).length > 0
        ? { ...(row?.metadata ? (JSON.parse(row.metadata) as JsonObject) : {}), ...input.threadMetadata }
        : undefined;
    const metadataText = mergedMetadata ? JSON.stringify(mergedMetadata) : (row?.metadata ?? null);
    if (row) this.stmts.updateThread.run(version, metadataText, now, input.threadId);
    else this.stmts.insertThread.run(input.threadId, version, metadataText, now, now);

    const messages = input.messages.map((m, i) => {
      const sequence = current + i + 1;
      const id = m.id || randomUUID();
      const createTime = m.createTime ? m.createTime.getTime() : now;
      this.stmts.insertMessage.run(input.threadId, sequence, id, encodeMessageBody(m), createTime);
      // What a read of the row returns, built from the input rather than by parsing the body just written.
      return storedMessage(m, input.threadId, sequence, id, createTime);
    });
    const threadRow: ThreadRow = {
      id: input.threadId,
      version,
      metadata: metadataText,
      create_time: row?.create_time ?? now,
      update_time: now,
    };
    this.recordRequest(input.requestId, 'append', input.threadId, { from: current + 1, to: version, thread: threadRow }, now);
    return { thread: this.threadFromRow(threadRow), messages, replayed: false };
  }

  async appendMessages(input: AppendMessagesInput): Promise<AppendMessagesResult> {
    return this.tx(() => this.appendSync(input, Date.now()));
  }

  async listMessages(input: ListMessagesInput): Promise<ListMessagesResult> {
    this.ensureOpen();
    const row = this.stmts.getThread.get(input.threadId) as ThreadRow | undefined;
    if (!row) throw threadNotFound(input.threadId);
    const limit = Math.max(1, input.limit);
    const rows = (
      input.newestFirst
        ? this.stmts.listMessagesDesc.all(input.threadId, input.beforeSequence ?? MAX_SEQUENCE, limit + 1)
        : this.stmts.listMessagesAsc.all(input.threadId, input.afterSequence ?? 0, limit + 1)
    ) as unknown as MessageRow[];
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      thread: this.threadFromRow(row),
      messages: page.map(decodeMessage),
      nextCursor: more ? page[page.length - 1].sequence : undefined,
    };
  }

  async getThread(threadId: string): Promise<Thread> {
    this.ensureOpen();
    const row = this.stmts.getThread.get(threadId) as ThreadRow | undefined;
    if (!row) throw threadNotFound(threadId);
    return this.threadFromRow(row);
  }

  async listThreads(input: ListThreadsInput): Promise<ListThreadsResult> {
    this.ensureOpen();
    const limit = Math.max(1, input.limit);
    const prefix = input.prefix ?? '';
    const upper = prefixUpperBound(prefix);
    const after = input.afterId ?? '';
    const rows = (
      upper === undefined
        ? this.stmts.listThreads.all(after, prefix, limit + 1)
        : this.stmts.listThreadsBounded.all(after, prefix, upper, limit + 1)
    ) as unknown as ThreadRow[];
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return { threads: page.map((r) => this.threadFromRow(r)), nextCursor: more ? page[page.length - 1].id : undefined };
  }

  async deleteThread(input: DeleteThreadInput): Promise<{ deleted: boolean }> {
    return this.tx(() => {
      const previous = this.checkRequest(input.requestId, 'deleteThread', input.threadId);
      if (previous) return JSON.parse(previous.outcome) as { deleted: boolean };
      const row = this.stmts.getThread.get(input.threadId) as ThreadRow | undefined;
      const current = row?.version ?? 0;
      if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
        throw versionConflict('thread', input.threadId, input.expectedVersion, current);
      }
      if (row) {
        this.stmts.deleteMessages.run(input.threadId);
        this.stmts.deleteThread.run(input.threadId);
      }
      const outcome = { deleted: row !== undefined };
      this.recordRequest(input.requestId, 'deleteThread', input.threadId, outcome, Date.now());
      return outcome;
    });
  }

  // ------------------------------------------------------------ memories

  private namespaceFromRow(row: NamespaceRow): Namespace {
    return {
      name: row.name,
      embedder: row.embedder,
      dimensions: row.dimensions,
      memoryCount: row.memory_count,
      createTime: new Date(row.create_time),
    };
  }

  private namespaceRow(name: string): NamespaceRow | undefined {
    return this.stmts.getNamespace.get(name) as NamespaceRow | undefined;
  }

  private requireNamespace(name: string): NamespaceRow {
    const row = this.namespaceRow(name);
    if (!row) throw namespaceNotFound(name);
    return row;
  }

  private memoryFromRow(namespace: string, row: MemoryRow, includeVector: boolean): Memory {
    return {
      id: row.id,
      namespace,
      text: row.text,
      metadata: row.metadata ? (JSON.parse(row.metadata) as JsonObject) : undefined,
      vector: includeVector && row.vector ? blobToVector(row.vector) : [],
      createTime: new Date(row.create_time),
      updateTime: new Date(row.update_time),
    };
  }

  async upsertMemories(input: UpsertMemoriesInput): Promise<UpsertMemoriesResult> {
    this.ensureOpen();
    const previous = this.checkRequest(input.requestId, 'upsert', input.namespace);
    if (previous) {
      const ids = JSON.parse(previous.outcome) as string[];
      const ns = this.requireNamespace(input.namespace);
      const memories = ids.flatMap((id) => {
        const row = this.stmts.getMemory.get(ns.ns_id, id) as MemoryRow | undefined;
        return row ? [this.memoryFromRow(ns.name, row, false)] : [];
      });
      return { memories, namespace: this.namespaceFromRow(ns) };
    }
    const existing = this.namespaceRow(input.namespace);
    const dimensions = existing?.dimensions ?? input.dimensions;
    if (!existing && !(Number.isInteger(dimensions) && dimensions > 0)) {
      throw invalidArgument('dimensions', 'must be a positive integer for a new namespace');
    }
    // Validate every vector before writing anything: a bad batch writes nothing.
    // Validate every vector before writing anything (a bad batch writes nothing),
    // in slices too: checking 5,000 × 384 floats is itself a long synchronous job.
    const vectors: Float32Array[] = [];
    for (let i = 0; i < input.memories.length; i++) {
      if (i > 0 && i % this.sliceRows === 0) await yieldToEventLoop();
      vectors.push(checkVector(input.memories[i].vector, dimensions, `memories[${i}].vector`, input.namespace));
    }
    const blobs = vectors.map(vectorBlob);
    const out: Memory[] = [];
    for (let start = 0; start === 0 || start < input.memories.length; start += this.sliceRows) {
      if (start > 0) await yieldToEventLoop();
      this.ensureOpen();
      const end = Math.min(start + this.sliceRows, input.memories.length);
      const applied: Array<[number, Float32Array, JsonObject | undefined]> = [];
      const nsId = this.tx(() => {
        const now = Date.now();
        let ns = this.namespaceRow(input.namespace);
        if (!ns) ns = this.stmts.insertNamespace.get(input.namespace, input.embedder, dimensions, now) as unknown as NamespaceRow;
        let added = 0;
        for (let i = start; i < end; i++) {
          const m = input.memories[i];
          const metadata = m.metadata === undefined ? null : JSON.stringify(m.metadata);
          const found = this.stmts.findMemory.get(ns.ns_id, m.id) as { rowid: number; create_time: number } | undefined;
          let rowid: number;
          if (found) {
            rowid = found.rowid;
            this.stmts.updateMemory.run(m.text, metadata, now, rowid);
            this.stmts.deleteFields.run(rowid);
          } else {
            rowid = Number((this.stmts.insertMemory.get(ns.ns_id, m.id, m.text, metadata, now, now) as { rowid: number }).rowid);
            added += 1;
          }
          this.stmts.putVector.run(rowid, blobs[i]);
          applied.push([rowid, vectors[i], m.metadata]);
          for (const f of flattenMetadata(m.metadata)) this.stmts.insertField.run(rowid, f.path, ns.ns_id, f.kind, f.value);
          out.push({
            id: m.id,
            namespace: input.namespace,
            text: m.text,
            metadata: m.metadata,
            vector: [],
            createTime: new Date(found?.create_time ?? now),
            updateTime: new Date(now),
          });
        }
        if (added > 0) this.stmts.bumpNamespaceCount.run(added, ns.ns_id);
        if (end === input.memories.length) {
          this.recordRequest(input.requestId, 'upsert', input.namespace, input.memories.map((m) => m.id), now);
        }
        return ns.ns_id;
      });
      // Committed: keep an in-memory copy of the namespace current.
      const cached = this.vectors.peek(nsId);
      if (cached) {
        for (const [rowid, vector, metadata] of applied) cached.set(rowid, vector, metadata);
        this.vectors.enforce(nsId);
      }
    }
    return { memories: out, namespace: this.namespaceFromRow(this.requireNamespace(input.namespace)) };
  }

  async searchMemories(input: SearchMemoriesInput): Promise<SearchMemoriesResult> {
    this.ensureOpen();
    validateMetadataFilter(input.filter);
    const ns = this.requireNamespace(input.namespace);
    const queryVector = checkVector(input.vector, ns.dimensions, 'query_vector', ns.name);
    const cached = this.cachedVectors(ns);
    if (cached) return this.searchCached(ns, cached, queryVector, input);
    const query = vectorBlob(queryVector);
    const filter = filterToSql(input.filter, 'm.metadata');
    const threshold = input.minScore === undefined ? '' : 'AND vec_distance_cosine(v.vector, ?) <= ?';
    // A selective eq / in / range condition drives the search from the
    // memory_fields index; otherwise the namespace's rows are scanned. The full
    // filter is applied either way. A bounded count decides which is cheaper.
    const probe = chooseIndexProbe(input.filter);
    let useIndex = false;
    if (probe) {
      const cap = Math.max(2000, Math.floor(ns.memory_count * 0.25));
      const counted = this.dynamicStatement(
        `SELECT count(*) AS n FROM (SELECT 1 FROM memory_fields f WHERE f.ns_id = ? AND ${probe.sql} LIMIT ?)`,
      ).get(ns.ns_id, ...(probe.params as never[]), cap + 1) as { n: number };
      useIndex = counted.n <= cap;
    }
    const source = useIndex && probe
      ? `memory_fields f CROSS JOIN memories m ON m.rowid = f.mem_rowid CROSS JOIN memory_vectors v ON v.rowid = m.rowid
         WHERE f.ns_id = ? AND ${probe.sql} AND`
      : `memories m CROSS JOIN memory_vectors v ON v.rowid = m.rowid WHERE m.ns_id = ? AND`;
    // Rank on the narrow inner query and fetch full rows only for the top k.
    const sql = `
      SELECT m.rowid, m.id, m.text, json(m.metadata) AS metadata, m.create_time, m.update_time,
             ${input.includeVectors ? '(SELECT vector FROM memory_vectors WHERE rowid = m.rowid) AS vector,' : ''} r.distance
      FROM (
        SELECT m.rowid AS rid, m.id AS rkey, vec_distance_cosine(v.vector, ?) AS distance
        FROM ${source} ${filter.sql} ${threshold}
        ORDER BY distance, rkey
        LIMIT ?
      ) AS r JOIN memories AS m ON m.rowid = r.rid
      ORDER BY r.distance, r.rkey`;
    // Parameters in textual order.
    const params: Array<SqlParam | Uint8Array> = [query, ns.ns_id];
    if (useIndex && probe) params.push(...probe.params);
    params.push(...filter.params);
    if (input.minScore !== undefined) params.push(query, 1 - input.minScore);
    params.push(Math.max(1, input.topK));
    const rows = this.dynamicStatement(sql).all(...(params as never[])) as unknown as MemoryRow[];
    return {
      results: rows.map((row) => ({
        memory: this.memoryFromRow(ns.name, row, input.includeVectors === true),
        score: 1 - (row.distance ?? 1),
      })),
      namespace: this.namespaceFromRow(ns),
    };
  }

  /** The complete in-memory vectors of ns, starting a load when it is worth one; undefined: rank in SQL. */
  private cachedVectors(ns: NamespaceRow): NamespaceVectors | undefined {
    if (this.vectors.maxBytes === 0 || ns.memory_count < this.vectorCacheMinRows) return undefined;
    // Another connection wrote the file: every copy may be stale.
    const version = (this.stmts.dataVersion.get() as { data_version: number }).data_version;
    if (version !== this.dataVersion) {
      if (this.dataVersion !== -1) this.vectors.clear();
      this.dataVersion = version;
    }
    const existing = this.vectors.get(ns.ns_id);
    if (existing) return existing.complete ? existing : undefined;
    const entry = this.vectors.begin(ns.ns_id, ns.dimensions, ns.memory_count);
    if (!entry) return undefined;
    if (ns.memory_count <= this.sliceRows * 8) {
      this.loadVectorSlice(ns.ns_id, entry, 0, Number.MAX_SAFE_INTEGER);
      entry.complete = true;
      return entry;
    }
    const loading = this.loadVectors(ns.ns_id, entry)
      .catch(() => this.vectors.drop(ns.ns_id))
      .finally(() => this.vectorLoads.delete(ns.ns_id));
    this.vectorLoads.set(ns.ns_id, loading);
    return undefined;
  }

  /**
   * Loads the namespace's in-memory vector copies now (benchmarks, start-up),
   * and the metadata columns of the given filter fields; true when searches
   * will use them.
   */
  async warmVectors(namespace: string, fields: string[] = []): Promise<boolean> {
    const ns = this.requireNamespace(namespace);
    let entry = this.cachedVectors(ns);
    if (!entry) {
      await this.vectorLoads.get(ns.ns_id);
      entry = this.cachedVectors(this.requireNamespace(namespace));
    }
    if (!entry || fields.length === 0) return entry !== undefined;
    const filter: MetadataFilter = { all: fields.map((field) => ({ field, condition: { $case: 'exists', exists: true } })), any: [] };
    validateMetadataFilter(filter, 'fields');
    this.columnsReady(ns, entry, filter);
    const loaded = entry;
    await Promise.all(fields.map((f) => this.columnLoads.get(loaded.column(f) as FieldColumn)));
    return true;
  }

  /** Loads rows with rowid > after into entry; returns the last rowid read, or undefined when done. */
  private loadVectorSlice(nsId: number, entry: NamespaceVectors, after: number, limit: number): number | undefined {
    const rows = this.stmts.vectorSlice.all(nsId, after, limit) as Array<{ rowid: number; vector: Uint8Array }>;
    for (const r of rows) {
      const aligned = r.vector.byteOffset % 4 === 0 ? r.vector : new Uint8Array(r.vector);
      entry.load(r.rowid, new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4));
    }
    return rows.length < limit ? undefined : rows[rows.length - 1].rowid;
  }

  /**
   * Fills entry in short slices. Writes that commit meanwhile update the entry
   * too; a slice re-reading a row they touched reads the same committed value.
   */
  private async loadVectors(nsId: number, entry: NamespaceVectors): Promise<void> {
    let after: number | undefined = 0;
    while (after !== undefined) {
      await yieldToEventLoop();
      if (this.closed || this.vectors.peek(nsId) !== entry) return;
      after = this.loadVectorSlice(nsId, entry, after, this.sliceRows * 4);
    }
    entry.complete = true;
    this.vectors.enforce(nsId);
  }

  private searchCached(ns: NamespaceRow, entry: NamespaceVectors, query: Float32Array, input: SearchMemoriesInput): SearchMemoriesResult {
    const filter = input.filter;
    let slots: SlotSelection | undefined;
    if (filter && ((filter.all?.length ?? 0) > 0 || (filter.any?.length ?? 0) > 0)) {
      // Filtered from the in-memory columns once they are loaded, from SQL until then.
      slots = this.columnsReady(ns, entry, filter) ? entry.filterSlots(filter) : entry.slotsOf(this.filterCandidates(ns, filter));
    }
    const best = entry.topK(query, Math.max(1, input.topK), slots, input.minScore, (rowids) => this.vectorsByRowid(rowids));
    if (best.length === 0) return { results: [], namespace: this.namespaceFromRow(ns) };
    const stmt = input.includeVectors ? this.stmts.memoriesByRowidWithVector : this.stmts.memoriesByRowid;
    const rows = stmt.all(JSON.stringify(best.map((b) => b.rowid))) as unknown as MemoryRow[];
    const byRowid = new Map(rows.map((r) => [r.rowid, r]));
    const results = best.flatMap((b) => {
      const row = byRowid.get(b.rowid);
      return row ? [{ memory: this.memoryFromRow(ns.name, row, input.includeVectors === true), score: b.score }] : [];
    });
    results.sort((a, b) => b.score - a.score || (a.memory.id < b.memory.id ? -1 : a.memory.id > b.memory.id ? 1 : 0));
    return { results, namespace: this.namespaceFromRow(ns) };
  }

  /** The stored vectors of rowids, in order (the exact re-ranking of an in-memory search). */
  private vectorsByRowid(rowids: number[]): Array<Float32Array | undefined> {
    const rows = this.stmts.vectorsByRowid.all(JSON.stringify(rowids)) as Array<{ rowid: number; vector: Uint8Array }>;
    const byRowid = new Map(rows.map((r) => [r.rowid, r.vector]));
    return rowids.map((rowid) => {
      const blob = byRowid.get(rowid);
      if (!blob) return undefined;
      const aligned = blob.byteOffset % 4 === 0 ? blob : new Uint8Array(blob);
      return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
    });
  }

  /** Rowids of the namespace's memories matching filter, from SQL (the metadata index when a condition can drive it). */
  private filterCandidates(ns: NamespaceRow, filter: MetadataFilter): number[] {
    const all = filter.all ?? [];
    const any = filter.any ?? [];
    const probe = chooseIndexProbe(filter);
    const where = filterToSql(filter, 'm.metadata');
    let sql: string;
    let params: SqlParam[];
    if (probe && all.length === 1 && any.length === 0) {
      sql = `SELECT f.mem_rowid AS r FROM memory_fields f WHERE f.ns_id = ? AND ${probe.sql}`;
      params = [ns.ns_id, ...probe.params];
    } else if (probe) {
      sql = `SELECT m.rowid AS r FROM memory_fields f CROSS JOIN memories m ON m.rowid = f.mem_rowid
             WHERE f.ns_id = ? AND ${probe.sql} AND ${where.sql}`;
      params = [ns.ns_id, ...probe.params, ...where.params];
    } else {
      sql = `SELECT m.rowid AS r FROM memories m WHERE m.ns_id = ? AND ${where.sql}`;
      params = [ns.ns_id, ...where.params];
    }
    return (this.dynamicStatement(sql).all(...(params as never[])) as Array<{ r: number }>).map((x) => x.r);
  }

  /**
   * True when entry has a complete column for every field filter reads;
   * otherwise starts loading the missing ones (at once for small namespaces,
   * in slices that keep the event loop free for large ones).
   */
  private columnsReady(ns: NamespaceRow, entry: NamespaceVectors, filter: MetadataFilter): boolean {
    let ready = true;
    for (const path of filterFields(filter)) {
      let column = entry.column(path);
      if (!column) {
        column = entry.addColumn(path);
        if (entry.size <= this.sliceRows * 8) {
          this.loadColumnSlice(ns.ns_id, entry, column, 0, Number.MAX_SAFE_INTEGER);
          column.complete = true;
        } else {
          const loading = column;
          const done = this.loadColumn(ns.ns_id, entry, loading)
            .catch(() => entry.dropColumn(loading))
            .finally(() => this.columnLoads.delete(loading));
          this.columnLoads.set(loading, done);
        }
        this.vectors.enforce(ns.ns_id);
      }
      ready &&= column.complete;
    }
    return ready;
  }

  /** Reads column's field of the rows with rowid > after into entry; returns the last rowid read, or undefined when done. */
  private loadColumnSlice(nsId: number, entry: NamespaceVectors, column: FieldColumn, after: number, limit: number): number | undefined {
    const jsonPath = '$' + column.segments.map((s) => `."${s}"`).join('');
    const rows = this.stmts.fieldSlice.all(jsonPath, jsonPath, jsonPath, nsId, after, limit) as Array<{ rowid: number; t: string | null; v: SqlParam }>;
    for (const r of rows) {
      switch (r.t) {
        case null:
          entry.setField(column, r.rowid, undefined, false);
          break;
        case 'true':
        case 'false':
          entry.setField(column, r.rowid, r.t === 'true', true);
          break;
        case 'null':
          entry.setField(column, r.rowid, null, true);
          break;
        case 'object':
        case 'array':
          entry.setField(column, r.rowid, {}, true);
          break;
        default:
          entry.setField(column, r.rowid, r.v, true);
      }
    }
    return rows.length < limit ? undefined : rows[rows.length - 1].rowid;
  }

  /** Fills column in short slices; writes that commit meanwhile update it too (as for loadVectors). */
  private async loadColumn(nsId: number, entry: NamespaceVectors, column: FieldColumn): Promise<void> {
    let after: number | undefined = 0;
    while (after !== undefined) {
      await yieldToEventLoop();
      if (this.closed || this.vectors.peek(nsId) !== entry || entry.column(column.path) !== column) return;
      after = this.loadColumnSlice(nsId, entry, column, after, this.sliceRows * 8);
    }
    column.complete = true;
    this.vectors.enforce(nsId);
  }

  /** In-memory vector copies, for metrics. */
  vectorCacheStats() {
    return this.vectors.stats();
  }

  async getMemory(namespace: string, id: string, includeVector = false): Promise<Memory> {
    this.ensureOpen();
    const ns = this.requireNamespace(namespace);
    const stmt = includeVector ? this.stmts.getMemoryWithVector : this.stmts.getMemory;
    const row = stmt.get(ns.ns_id, id) as MemoryRow | undefined;
    if (!row) throw memoryNotFound(namespace, id);
    return this.memoryFromRow(namespace, row, includeVector);
  }

  async listMemories(input: ListMemoriesInput): Promise<ListMemoriesResult> {
    this.ensureOpen();
    validateMetadataFilter(input.filter);
    const ns = this.requireNamespace(input.namespace);
    const filter = filterToSql(input.filter, 'm.metadata');
    const limit = Math.max(1, input.limit);
    const sql = `
      SELECT rowid, id, text, json(metadata) AS metadata, create_time, update_time
        ${input.includeVectors ? ', (SELECT vector FROM memory_vectors v WHERE v.rowid = m.rowid) AS vector' : ''}
      FROM memories m WHERE ns_id = ? AND id > ? AND ${filter.sql} ORDER BY id LIMIT ?`;
    const rows = this.dynamicStatement(sql).all(
      ns.ns_id,
      input.afterId ?? '',
      ...(filter.params as never[]),
      limit + 1,
    ) as unknown as MemoryRow[];
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      memories: page.map((r) => this.memoryFromRow(ns.name, r, input.includeVectors === true)),
      nextCursor: more ? page[page.length - 1].id : undefined,
    };
  }

  async deleteMemory(namespace: string, id: string): Promise<{ deleted: boolean }> {
    const outcome = this.tx((): { deleted: boolean; nsId?: number; rowid?: number } => {
      const ns = this.namespaceRow(namespace);
      if (!ns) return { deleted: false };
      const found = this.stmts.findMemory.get(ns.ns_id, id) as { rowid: number } | undefined;
      if (!found) return { deleted: false };
      this.deleteMemoryRows(found.rowid);
      this.stmts.bumpNamespaceCount.run(-1, ns.ns_id);
      return { deleted: true, nsId: ns.ns_id, rowid: found.rowid };
    });
    if (outcome.nsId !== undefined && outcome.rowid !== undefined) this.vectors.peek(outcome.nsId)?.delete(outcome.rowid);
    return { deleted: outcome.deleted };
  }

  async getNamespace(namespace: string): Promise<Namespace> {
    this.ensureOpen();
    return this.namespaceFromRow(this.requireNamespace(namespace));
  }

  async listNamespaces(input: ListNamespacesInput): Promise<ListNamespacesResult> {
    this.ensureOpen();
    const limit = Math.max(1, input.limit);
    const rows = this.stmts.listNamespaces.all(input.afterName ?? '', limit + 1) as unknown as NamespaceRow[];
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      namespaces: page.map((r) => this.namespaceFromRow(r)),
      nextCursor: more ? page[page.length - 1].name : undefined,
    };
  }

  async deleteNamespace(namespace: string): Promise<DeleteNamespaceResult> {
    const row = this.tx(() => {
      const ns = this.namespaceRow(namespace);
      if (ns) this.stmts.deleteNamespace.run(ns.ns_id);
      return ns;
    });
    if (!row) return { deleted: false, deletedMemories: 0 };
    this.vectors.drop(row.ns_id);
    // The namespace is gone for readers already; its rows go in short slices.
    await this.deleteOrphanMemories();
    return { deleted: true, deletedMemories: row.memory_count };
  }

  private deleteMemoryRows(rowid: number): void {
    this.stmts.deleteFields.run(rowid);
    this.stmts.deleteVector.run(rowid);
    this.stmts.deleteMemoryRow.run(rowid);
  }

  private async deleteOrphanMemories(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const deleted = this.tx(() => {
        const rows = this.stmts.orphanMemories.all(this.sliceRows * 2) as Array<{ rowid: number }>;
        for (const r of rows) this.deleteMemoryRows(r.rowid);
        return rows.length;
      });
      if (deleted === 0) return;
      await yieldToEventLoop();
    }
  }

  // ------------------------------------------------------------ state

  private stateFromRow(row: StateRow, withValue = true): StateEntry {
    let value: StateEntry['value'];
    if (withValue) {
      value =
        row.kind === 'b'
          ? { $case: 'bytesValue', bytesValue: Buffer.from(row.value as Uint8Array) }
          : { $case: 'structValue', structValue: JSON.parse(row.value as string) as JsonObject };
    }
    return {
      key: row.key,
      value,
      version: row.version,
      createTime: new Date(row.create_time),
      updateTime: new Date(row.update_time),
      expireTime: row.expire_time === null ? undefined : new Date(row.expire_time),
    };
  }

  /** The live row for key: an expired row reads as absent. */
  private liveState(key: string, now: number): StateRow | undefined {
    const row = this.stmts.getState.get(key) as StateRow | undefined;
    if (row && row.expire_time !== null && row.expire_time <= now) return undefined;
    return row;
  }

  /** What a write needs of the live row for key (not its value, which can be large): undefined when absent or expired. */
  private liveStateVersion(key: string, now: number): Pick<StateRow, 'version' | 'create_time' | 'expire_time'> | undefined {
    const row = this.stmts.getStateVersion.get(key) as Pick<StateRow, 'version' | 'create_time' | 'expire_time'> | undefined;
    if (row && row.expire_time !== null && row.expire_time <= now) return undefined;
    return row;
  }

  private putStateSync(input: PutStateInput, now: number): StateEntry {
    const previous = this.checkRequest(input.requestId, 'putState', input.key);
    if (previous) {
      const outcome = JSON.parse(previous.outcome) as StateRow;
      const live = this.liveState(input.key, now);
      return live && live.version === outcome.version ? this.stateFromRow(live) : this.stateFromRow(outcome, false);
    }
    const live = this.liveStateVersion(input.key, now);
    const current = live?.version ?? 0;
    if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
      throw versionConflict('state', input.key, input.expectedVersion, current);
    }
    const kind = input.value.$case === 'bytesValue' ? 'b' : 's';
    const value = input.value.$case === 'bytesValue' ? input.value.bytesValue : JSON.stringify(input.value.structValue ?? {});
    const row: StateRow = {
      key: input.key,
      kind,
      value,
      version: current + 1,
      create_time: live?.create_time ?? now,
      update_time: now,
      expire_time: input.ttlMs === undefined ? null : now + input.ttlMs,
    };
    this.stmts.upsertState.run(row.key, row.kind, row.value, row.version, row.create_time, row.update_time, row.expire_time);
    this.recordRequest(input.requestId, 'putState', input.key, { ...row, value: null }, now);
    // The entry as a read returns it, with the value as given rather than parsed back from the row.
    const entry = this.stateFromRow(row, false);
    entry.value = input.value.$case === 'bytesValue' ? input.value : { $case: 'structValue', structValue: input.value.structValue ?? {} };
    return entry;
  }

  private deleteStateSync(input: DeleteStateInput, now: number): { deleted: boolean } {
    const previous = this.checkRequest(input.requestId, 'deleteState', input.key);
    if (previous) return JSON.parse(previous.outcome) as { deleted: boolean };
    const live = this.liveStateVersion(input.key, now);
    const current = live?.version ?? 0;
    if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
      throw versionConflict('state', input.key, input.expectedVersion, current);
    }
    // Also drops an expired row, which reads as absent anyway.
    this.stmts.deleteState.run(input.key);
    const outcome = { deleted: live !== undefined };
    this.recordRequest(input.requestId, 'deleteState', input.key, outcome, now);
    return outcome;
  }

  async putState(input: PutStateInput): Promise<StateEntry> {
    return this.tx(() => this.putStateSync(input, Date.now()));
  }

  async getState(key: string): Promise<StateEntry> {
    this.ensureOpen();
    const row = this.liveState(key, Date.now());
    if (!row) throw stateNotFound(key);
    return this.stateFromRow(row);
  }

  async listState(input: ListStateInput): Promise<ListStateResult> {
    this.ensureOpen();
    const limit = Math.max(1, input.limit);
    const upper = prefixUpperBound(input.prefix);
    const columns = input.keysOnly ? "key, kind, NULL AS value, version, create_time, update_time, expire_time" : '*';
    const sql = `SELECT ${columns} FROM state WHERE key > ? AND key >= ? ${upper === undefined ? '' : 'AND key < ?'}
      AND (expire_time IS NULL OR expire_time > ?) ORDER BY key LIMIT ?`;
    const params: SqlParam[] = [input.afterKey ?? '', input.prefix];
    if (upper !== undefined) params.push(upper);
    params.push(Date.now(), limit + 1);
    const rows = this.dynamicStatement(sql).all(...(params as never[])) as unknown as StateRow[];
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      entries: page.map((r) => this.stateFromRow(r, !input.keysOnly)),
      nextCursor: more ? page[page.length - 1].key : undefined,
    };
  }

  async deleteState(input: DeleteStateInput): Promise<{ deleted: boolean }> {
    return this.tx(() => this.deleteStateSync(input, Date.now()));
  }

  // ------------------------------------------------------------ batches

  private applySync(op: WriteOperation, now: number): WriteOutcome {
    switch (op.$case) {
      case 'appendMessages':
        return { $case: 'appendMessages', appendMessages: this.appendSync(op.appendMessages, now) };
      case 'putState':
        return { $case: 'putState', putState: this.putStateSync(op.putState, now) };
      case 'deleteState':
        return { $case: 'deleteState', deleteState: this.deleteStateSync(op.deleteState, now) };
    }
  }

  /**
   * Group commit: batches that arrive in the same turn of the event loop share
   * one transaction (each inside its own savepoint, so one failing batch rolls
   * back alone) and are acknowledged together once it has committed. A COMMIT
   * costs far more than the rows of a small batch; with many turns in flight
   * this makes one commit out of dozens. Any other store call first applies
   * the queued batches, so calls still take effect in the order they were made.
   */
  batchWrite(input: BatchWriteInput): Promise<WriteOutcome[]> {
    if (this.closed) return Promise.reject(new Error('SqliteStore is closed'));
    return new Promise<WriteOutcome[]>((resolve, reject) => {
      this.queuedBatches.push({ input, resolve, reject });
      if (this.queuedBatches.length === 1) setImmediate(() => this.flushBatches());
    });
  }

  private applyBatchSync(input: BatchWriteInput, now: number): WriteOutcome[] {
    if (input.atomic) {
      return input.operations.map((op, index) => {
        try {
          return this.applySync(op, now);
        } catch (error) {
          if (isStoreError(error)) error.metadata.operationIndex = String(index);
          throw error;
        }
      });
    }
    return input.operations.map((op) => {
      this.db.exec('SAVEPOINT op');
      try {
        const outcome = this.applySync(op, now);
        this.db.exec('RELEASE op');
        return outcome;
      } catch (error) {
        this.db.exec('ROLLBACK TO op');
        this.db.exec('RELEASE op');
        if (!isStoreError(error)) throw error;
        return { $case: 'error', error } as WriteOutcome;
      }
    });
  }

  /** Applies every queued batch in one transaction; settles each once it is durable (or failed). */
  private flushBatches(): void {
    const batches = this.queuedBatches;
    if (batches.length === 0) return;
    this.queuedBatches = [];
    if (this.closed) {
      for (const b of batches) b.reject(new Error('SqliteStore is closed'));
      return;
    }
    const settled: Array<{ ok: true; value: WriteOutcome[] } | { ok: false; error: unknown }> = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      for (const b of batches) b.reject(error);
      return;
    }
    try {
      const now = Date.now();
      for (const b of batches) {
        this.db.exec('SAVEPOINT batch');
        try {
          settled.push({ ok: true, value: this.applyBatchSync(b.input, now) });
          this.db.exec('RELEASE batch');
        } catch (error) {
          this.db.exec('ROLLBACK TO batch');
          this.db.exec('RELEASE batch');
          settled.push({ ok: false, error });
        }
      }
      this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      for (const b of batches) b.reject(error);
      return;
    }
    batches.forEach((b, i) => {
      const s = settled[i];
      if (s.ok) b.resolve(s.value);
      else b.reject(s.error);
    });
  }

  // ------------------------------------------------------------ upkeep

  /** Drops expired state, request ids past retention and memories of deleted namespaces, in slices. */
  async sweep(): Promise<void> {
    const limit = this.sliceRows * 4;
    for (;;) {
      if (this.closed) return;
      const now = Date.now();
      const changes = this.tx(
        () =>
          Number(this.stmts.deleteExpiredState.run(now, limit).changes) +
          Number(this.stmts.pruneRequests.run(now - this.requestRetentionMs, limit).changes),
      );
      if (changes === 0) break;
      await yieldToEventLoop();
    }
    await this.deleteOrphanMemories();
  }

  /** Raw handle for benchmarks that compare against a bare sqlite-vec query. */
  get database(): DatabaseSync {
    return this.db;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flushBatches();
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.db.close();
  }
}
