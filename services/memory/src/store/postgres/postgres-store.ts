// The PostgreSQL backend (ELIXIRCHAIN_STORE=postgres://…), for deployments
// with several memory replicas on one database.
//
// Concurrency: every write is one transaction on a pooled connection. A CAS
// locks the row it compares (SELECT … FOR UPDATE), so concurrent writers to
// one thread or key queue on the row lock and all but the first see the new
// version and fail with ABORTED. request_id is an idempotency key with a
// unique constraint, claimed first in the writing transaction: a retry that
// races the original waits for it and then replays its outcome.
//
// Failure: a connection lost mid-call (server restart, pg_terminate_backend,
// network) surfaces as UNAVAILABLE. The write may or may not have committed;
// a retry with the same request_id applies it exactly once either way.
//
// Vectors: float32 bytea. With pgvector available, ranking runs in SQL
// (exact `<=>` over the metadata-filtered rows); otherwise the filtered
// candidates stream to this process in batches and are ranked exactly here.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
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
  StoreError,
  StoreErrorCode,
  memoryNotFound,
  namespaceNotFound,
  requestIdReused,
  stateNotFound,
  threadNotFound,
  versionConflict,
} from '../store-errors.js';
import { validateMetadataFilter } from '../metadata-filter.js';
import { prefixUpperBound } from '../key-range.js';
import { checkVector } from '../vector-check.js';
import { cosineSimilarity, float32FromBytes, float32ToBytes, normalise, TopK } from './cosine-top-k.js';
import { stripNul } from './json-sanitise.js';
import { filterToSql } from './metadata-filter-sql.js';
import { migrate, quoteIdent } from './migrations.js';
import { NamespaceVectorCache, type CacheStats, type NamespaceVectors } from './namespace-vector-cache.js';
import { resolvePostgresConfig, type PostgresStoreOptions, type ResolvedPostgresConfig } from './postgres-config.js';
import { isConnectionError, isTransientConflict, toStoreError } from './postgres-errors.js';
import {
  encodeMessageBody,
  memoryFromRow,
  messageFromRow,
  namespaceFromRow,
  stateFromRow,
  threadFromRow,
  type MemoryRow,
  type MessageRow,
  type NamespaceRow,
  type StateRow,
  type ThreadRow,
} from './row-codec.js';
import { storeUnavailable } from './store-unavailable.js';

export type { PostgresStoreOptions } from './postgres-config.js';

const MAX_SEQUENCE = '9223372036854775807';
const UPSERT_CHUNK_ROWS = 1000;
const TRANSIENT_RETRIES = 3;

interface RequestRow {
  kind: string;
  target: string;
  outcome: unknown;
}

interface AppendOutcome {
  from: number;
  to: number;
  thread: { id: string; version: number; metadata: JsonObject | null; create_time: string; update_time: string };
}

function noNul(value: string, field: string): string {
  if (value.includes('\u0000')) throw invalidArgument(field, 'must not contain NUL characters');
  return value;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly config: ResolvedPostgresConfig;
  /** How SearchMemories ranks: 'pgvector' in SQL, or 'exact' in this process. */
  vectorMode: 'pgvector' | 'exact' = 'exact';
  private readonly pool: pg.Pool;
  private readonly s: string;
  private readonly vectorCache: NamespaceVectorCache;
  private readonly loadingVectors = new Map<string, Promise<NamespaceVectors | undefined>>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /** Connects, migrates the schema and detects pgvector. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(options);
    try {
      await store.start();
    } catch (error) {
      await store.close();
      throw toStoreError(error);
    }
    return store;
  }

  private constructor(options: PostgresStoreOptions) {
    this.config = resolvePostgresConfig(options);
    this.s = quoteIdent(this.config.schema);
    this.vectorCache = new NamespaceVectorCache(this.config.vectorCacheBytes);
    this.pool = new pg.Pool({
      connectionString: this.config.connectionString,
      max: this.config.poolSize,
      application_name: this.config.applicationName,
      connectionTimeoutMillis: this.config.connectTimeoutMs,
      statement_timeout: this.config.statementTimeoutMs,
      idleTimeoutMillis: 30_000,
    });
    // An idle connection that dies (server restart, terminate) emits 'error';
    // the pool drops it. Without a listener Node would crash the process.
    this.pool.on('error', () => {});
    // A checked-out connection can die between two queries of a transaction;
    // the query that follows fails and the transaction maps it to UNAVAILABLE.
    this.pool.on('connect', (client) => client.on('error', () => {}));
  }

  private async start(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await migrate(client, this.config.schema);
      this.vectorMode = await this.detectVectorMode(client);
    } finally {
      client.release();
    }
    if (this.config.sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => {
        this.sweep().catch(() => {
          // Retried on the next tick; a failed sweep never affects callers.
        });
      }, this.config.sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  /**
   * pgvector is used when the server offers it and this role can enable it.
   * The extension lives in the public schema, never in ours, so dropping a
   * store's schema cannot take the type away from another store.
   */
  private async detectVectorMode(client: PoolClient): Promise<'pgvector' | 'exact'> {
    if (this.config.vectorSearch === 'exact') return 'exact';
    const available = await client.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'vector'`);
    if (available.rowCount === 0) {
      if (this.config.vectorSearch === 'pgvector') {
        throw new StoreError(StoreErrorCode.FAILED_PRECONDITION, 'PGVECTOR_UNAVAILABLE', 'vectorSearch=pgvector but the server does not offer the vector extension');
      }
      return 'exact';
    }
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public');
      await client.query(`SELECT '[1,0]'::public.vector <=> '[0,1]'::public.vector`);
      // Unconstrained dimensions: namespaces differ. Rows written while the
      // store ran without pgvector get their embedding from the bytea copy.
      await client.query(`ALTER TABLE ${this.t('memories')} ADD COLUMN IF NOT EXISTS embedding public.vector`);
      await this.backfillEmbeddings(client);
      return 'pgvector';
    } catch (error) {
      if (this.config.vectorSearch === 'pgvector') throw error;
      return 'exact';
    }
  }

  private async backfillEmbeddings(client: PoolClient): Promise<void> {
    for (;;) {
      const { rows } = await client.query<{ ns_id: string; id: string; vector: Buffer }>(
        `SELECT ns_id, id, vector FROM ${this.t('memories')} WHERE embedding IS NULL LIMIT 1000`,
      );
      if (rows.length === 0) return;
      await client.query(
        `UPDATE ${this.t('memories')} AS m SET embedding = u.embedding::public.vector
         FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(ns_id, id, embedding)
         WHERE m.ns_id = u.ns_id AND m.id = u.id`,
        [rows.map((r) => r.ns_id), rows.map((r) => r.id), rows.map((r) => vectorLiteral(float32FromBytes(r.vector)))],
      );
    }
  }

  private t(table: string): string {
    return `${this.s}.${table}`;
  }

  // ------------------------------------------------------------ plumbing

  private ensureOpen(): void {
    if (this.closed) throw storeUnavailable('postgres', 'store is closed');
  }

  private async connect(): Promise<PoolClient> {
    this.ensureOpen();
    try {
      return await this.pool.connect();
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /**
   * Runs fn in one transaction. Deadlocks and serialisation failures rerun it;
   * a lost connection becomes UNAVAILABLE and the connection is discarded.
   */
  private async tx<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    let staleConnections = 0;
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      let broken: Error | undefined;
      let begun = false;
      try {
        await client.query('BEGIN');
        begun = true;
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        if (isConnectionError(error)) {
          broken = error as Error;
          // A pooled connection that died while idle (server restart, failover)
          // fails on BEGIN, before anything was written: safe to take another.
          if (!begun && staleConnections++ < this.config.poolSize) continue;
          throw toStoreError(error);
        }
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError as Error;
        }
        if (isTransientConflict(error) && attempt <= TRANSIENT_RETRIES && !broken) continue;
        throw toStoreError(error);
      } finally {
        client.release(broken);
      }
    }
  }

  /** A read outside a transaction; retried once on a fresh connection if the first one died. */
  private async read<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      this.ensureOpen();
      try {
        return (await this.pool.query<R>(sql, params)).rows;
      } catch (error) {
        if (attempt === 1 && isConnectionError(error) && !this.closed) continue;
        throw toStoreError(error);
      }
    }
  }

  /**
   * Claims request_id for this transaction (a concurrent claimer waits on the
   * unique index until we commit or roll back). Returns the earlier outcome
   * when the id was already used for the same operation and target.
   */
  private async claimRequest(
    c: PoolClient,
    requestId: string | undefined,
    kind: string,
    target: string,
    now: Date,
  ): Promise<RequestRow | undefined> {
    if (!requestId) return undefined;
    noNul(requestId, 'request_id');
    const claimed = await c.query(
      `INSERT INTO ${this.t('requests')} (request_id, kind, target, outcome, create_time)
       VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (request_id) DO NOTHING`,
      [requestId, kind, target, now],
    );
    if (claimed.rowCount === 1) return undefined;
    const { rows } = await c.query<RequestRow>(
      `SELECT kind, target, outcome FROM ${this.t('requests')} WHERE request_id = $1`,
      [requestId],
    );
    const row = rows[0];
    if (!row) throw storeUnavailable('postgres', 'request id vanished during claim');
    if (row.kind !== kind || row.target !== target) throw requestIdReused(requestId, `for ${row.kind} on another target`);
    return row;
  }

  private async recordRequest(c: PoolClient, requestId: string | undefined, outcome: unknown): Promise<void> {
    if (!requestId) return;
    await c.query(`UPDATE ${this.t('requests')} SET outcome = $2 WHERE request_id = $1`, [requestId, JSON.stringify(outcome)]);
  }

  // ------------------------------------------------------------ threads

  /** Locks the thread row (creating it at version 0 inside this transaction if absent). */
  private async lockThread(c: PoolClient, threadId: string, now: Date): Promise<{ row: ThreadRow; existed: boolean }> {
    for (;;) {
      const found = await c.query<ThreadRow>(`SELECT * FROM ${this.t('threads')} WHERE id = $1 FOR UPDATE`, [threadId]);
      if (found.rows[0]) return { row: found.rows[0], existed: Number(found.rows[0].version) > 0 };
      const inserted = await c.query<ThreadRow>(
        `INSERT INTO ${this.t('threads')} (id, version, metadata, create_time, update_time)
         VALUES ($1, 0, NULL, $2, $2) ON CONFLICT (id) DO NOTHING RETURNING *`,
        [threadId, now],
      );
      // Lost a race with a concurrent creator: its row is committed now; lock it.
      if (inserted.rows[0]) return { row: inserted.rows[0], existed: false };
    }
  }

  private async appendIn(c: PoolClient, input: AppendMessagesInput, now: Date): Promise<AppendMessagesResult> {
    noNul(input.threadId, 'thread_id');
    const previous = await this.claimRequest(c, input.requestId, 'append', input.threadId, now);
    if (previous) {
      const outcome = previous.outcome as AppendOutcome;
      const thread = await c.query<ThreadRow>(`SELECT * FROM ${this.t('threads')} WHERE id = $1`, [input.threadId]);
      const rows = await c.query<MessageRow>(
        `SELECT * FROM ${this.t('messages')} WHERE thread_id = $1 AND sequence BETWEEN $2 AND $3 ORDER BY sequence`,
        [input.threadId, outcome.from, outcome.to],
      );
      const recorded: ThreadRow = {
        ...outcome.thread,
        create_time: new Date(outcome.thread.create_time),
        update_time: new Date(outcome.thread.update_time),
      };
      return { thread: threadFromRow(thread.rows[0] ?? recorded), messages: rows.rows.map(messageFromRow), replayed: true };
    }
    const { row } = await this.lockThread(c, input.threadId, now);
    const current = Number(row.version);
    if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
      throw versionConflict('thread', input.threadId, input.expectedVersion, current);
    }
    const version = current + input.messages.length;
    const metadata =
      input.threadMetadata && Object.keys(input.threadMetadata).length > 0
        ? { ...(row.metadata ?? {}), ...input.threadMetadata }
        : row.metadata;
    const updated = await c.query<ThreadRow>(
      `UPDATE ${this.t('threads')} SET version = $2, metadata = $3, update_time = $4 WHERE id = $1 RETURNING *`,
      [input.threadId, version, metadata === null ? null : JSON.stringify(metadata), now],
    );
    const ids: string[] = [];
    const sequences: number[] = [];
    const bodies: string[] = [];
    const times: Date[] = [];
    input.messages.forEach((m, i) => {
      ids.push(m.id ? noNul(m.id, `messages[${i}].id`) : randomUUID());
      sequences.push(current + i + 1);
      bodies.push(encodeMessageBody(m));
      times.push(m.createTime ?? now);
    });
    let messages: MessageRow[] = [];
    if (ids.length > 0) {
      const inserted = await c.query<MessageRow>(
        `INSERT INTO ${this.t('messages')} (thread_id, sequence, id, body, create_time)
         SELECT $1, u.sequence, u.id, u.body, u.create_time
         FROM unnest($2::bigint[], $3::text[], $4::json[], $5::timestamptz[]) AS u(sequence, id, body, create_time)
         RETURNING *`,
        [input.threadId, sequences, ids, bodies, times],
      );
      messages = inserted.rows.sort((a, b) => Number(a.sequence) - Number(b.sequence));
    }
    const thread = updated.rows[0];
    const outcome: AppendOutcome = {
      from: current + 1,
      to: version,
      thread: {
        id: thread.id,
        version,
        metadata: thread.metadata,
        create_time: thread.create_time.toISOString(),
        update_time: thread.update_time.toISOString(),
      },
    };
    await this.recordRequest(c, input.requestId, outcome);
    return { thread: threadFromRow(thread), messages: messages.map(messageFromRow), replayed: false };
  }

  async appendMessages(input: AppendMessagesInput): Promise<AppendMessagesResult> {
    return this.tx((c) => this.appendIn(c, input, new Date()));
  }

  private async threadRow(threadId: string): Promise<ThreadRow> {
    const rows = await this.read<ThreadRow>(`SELECT * FROM ${this.t('threads')} WHERE id = $1 AND version > 0`, [threadId]);
    if (!rows[0]) throw threadNotFound(threadId);
    return rows[0];
  }

  async listMessages(input: ListMessagesInput): Promise<ListMessagesResult> {
    const thread = await this.threadRow(input.threadId);
    const limit = Math.max(1, input.limit);
    const rows = input.newestFirst
      ? await this.read<MessageRow>(
          `SELECT * FROM ${this.t('messages')} WHERE thread_id = $1 AND sequence < $2 ORDER BY sequence DESC LIMIT $3`,
          [input.threadId, input.beforeSequence ?? MAX_SEQUENCE, limit + 1],
        )
      : await this.read<MessageRow>(
          `SELECT * FROM ${this.t('messages')} WHERE thread_id = $1 AND sequence > $2 ORDER BY sequence ASC LIMIT $3`,
          [input.threadId, input.afterSequence ?? 0, limit + 1],
        );
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      thread: threadFromRow(thread),
      messages: page.map(messageFromRow),
      nextCursor: more ? Number(page[page.length - 1].sequence) : undefined,
    };
  }

  async getThread(threadId: string): Promise<Thread> {
    return threadFromRow(await this.threadRow(threadId));
  }

  async listThreads(input: ListThreadsInput): Promise<ListThreadsResult> {
    const limit = Math.max(1, input.limit);
    const prefix = input.prefix ?? '';
    const upper = prefixUpperBound(prefix);
    const params: unknown[] = [input.afterId ?? '', prefix];
    if (upper !== undefined) params.push(upper);
    params.push(limit + 1);
    const rows = await this.read<ThreadRow>(
      `SELECT * FROM ${this.t('threads')}
       WHERE version > 0 AND id > $1 AND id >= $2 ${upper === undefined ? '' : 'AND id < $3'}
       ORDER BY id LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return { threads: page.map(threadFromRow), nextCursor: more ? page[page.length - 1].id : undefined };
  }

  async deleteThread(input: DeleteThreadInput): Promise<{ deleted: boolean }> {
    return this.tx(async (c) => {
      const now = new Date();
      const previous = await this.claimRequest(c, input.requestId, 'deleteThread', input.threadId, now);
      if (previous) return previous.outcome as { deleted: boolean };
      const found = await c.query<ThreadRow>(`SELECT * FROM ${this.t('threads')} WHERE id = $1 FOR UPDATE`, [input.threadId]);
      const current = found.rows[0] ? Number(found.rows[0].version) : 0;
      if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
        throw versionConflict('thread', input.threadId, input.expectedVersion, current);
      }
      // Messages go with the thread (ON DELETE CASCADE).
      if (found.rows[0]) await c.query(`DELETE FROM ${this.t('threads')} WHERE id = $1`, [input.threadId]);
      const outcome = { deleted: current > 0 };
      await this.recordRequest(c, input.requestId, outcome);
      return outcome;
    });
  }

  // ------------------------------------------------------------ memories

  private async namespaceRow(name: string): Promise<NamespaceRow | undefined> {
    const rows = await this.read<NamespaceRow>(`SELECT * FROM ${this.t('namespaces')} WHERE name = $1`, [name]);
    return rows[0];
  }

  private async requireNamespace(name: string): Promise<NamespaceRow> {
    const row = await this.namespaceRow(name);
    if (!row) throw namespaceNotFound(name);
    return row;
  }

  async upsertMemories(input: UpsertMemoriesInput): Promise<UpsertMemoriesResult> {
    let committed: (() => void) | undefined;
    const result = await this.upsertIn(input, (apply) => {
      committed = apply;
    });
    committed?.();
    return result;
  }

  private async upsertIn(input: UpsertMemoriesInput, onCommit: (apply: () => void) => void): Promise<UpsertMemoriesResult> {
    noNul(input.namespace, 'namespace');
    input.memories.forEach((m, i) => noNul(m.id, `memories[${i}].id`));
    // Validate against the namespace as it is now (so a bad batch costs no
    // transaction), and again under the namespace lock below.
    const existing = await this.namespaceRow(input.namespace);
    const validate = (dimensions: number) =>
      input.memories.map((m, i) => float32ToBytes(checkVector(m.vector, dimensions, `memories[${i}].vector`, input.namespace)));
    let vectors = existing ? validate(existing.dimensions) : undefined;
    return this.tx(async (c) => {
      const now = new Date();
      const previous = await this.claimRequest(c, input.requestId, 'upsert', input.namespace, now);
      if (previous) return this.replayUpsert(c, input.namespace, previous.outcome as string[]);
      let ns = (await c.query<NamespaceRow>(`SELECT * FROM ${this.t('namespaces')} WHERE name = $1 FOR UPDATE`, [input.namespace])).rows[0];
      if (!ns) {
        if (!(Number.isInteger(input.dimensions) && input.dimensions > 0)) {
          throw invalidArgument('dimensions', 'must be a positive integer for a new namespace');
        }
        vectors = validate(input.dimensions);
        ns = (
          await c.query<NamespaceRow>(
            `INSERT INTO ${this.t('namespaces')} (name, embedder, dimensions, memory_count, create_time)
             VALUES ($1, $2, $3, 0, $4) ON CONFLICT (name) DO NOTHING RETURNING *`,
            [input.namespace, input.embedder, input.dimensions, now],
          )
        ).rows[0];
        // A concurrent upsert created it first: take its row (and its dimensions).
        ns ??= (await c.query<NamespaceRow>(`SELECT * FROM ${this.t('namespaces')} WHERE name = $1 FOR UPDATE`, [input.namespace])).rows[0];
      }
      if (!vectors || existing?.dimensions !== ns.dimensions) vectors = validate(ns.dimensions);
      // The last occurrence of an id in one batch wins, as if applied in order.
      const lastIndex = new Map<string, number>();
      input.memories.forEach((m, i) => lastIndex.set(m.id, i));
      const unique = [...lastIndex.values()].sort((a, b) => a - b);
      const createTimes = new Map<string, Date>();
      let added = 0;
      for (let start = 0; start < unique.length; start += UPSERT_CHUNK_ROWS) {
        const chunk = unique.slice(start, start + UPSERT_CHUNK_ROWS);
        const pgv = this.vectorMode === 'pgvector';
        const params: unknown[] = [
          ns.ns_id,
          now,
          chunk.map((i) => input.memories[i].id),
          chunk.map((i) => JSON.stringify(input.memories[i].text)),
          chunk.map((i) => (input.memories[i].metadata === undefined ? null : JSON.stringify(input.memories[i].metadata))),
          chunk.map((i) => JSON.stringify(stripNul(input.memories[i].metadata ?? {}))),
          chunk.map((i) => (vectors as Buffer[])[i]),
        ];
        if (pgv) params.push(chunk.map((i) => vectorLiteral(input.memories[i].vector)));
        const { rows } = await c.query<{ id: string; create_time: Date; inserted: boolean }>(
          `INSERT INTO ${this.t('memories')} (ns_id, id, text, metadata, filter_metadata, vector, create_time, update_time${pgv ? ', embedding' : ''})
           SELECT $1, u.id, u.text, u.metadata, u.filter_metadata, u.vector, $2, $2${pgv ? ', u.embedding::public.vector' : ''}
           FROM unnest($3::text[], $4::json[], $5::json[], $6::jsonb[], $7::bytea[]${pgv ? ', $8::text[]' : ''})
             AS u(id, text, metadata, filter_metadata, vector${pgv ? ', embedding' : ''})
           ON CONFLICT (ns_id, id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata,
             filter_metadata = excluded.filter_metadata, vector = excluded.vector, update_time = excluded.update_time
             ${pgv ? ', embedding = excluded.embedding' : ''}
           RETURNING id, create_time, (xmax::text = '0') AS inserted`,
          params,
        );
        for (const r of rows) {
          createTimes.set(r.id, r.create_time);
          if (r.inserted) added += 1;
        }
      }
      const counted = await c.query<NamespaceRow>(
        `UPDATE ${this.t('namespaces')} SET memory_count = memory_count + $2, vector_version = vector_version + 1
         WHERE ns_id = $1 RETURNING *`,
        [ns.ns_id, added],
      );
      const to = Number(counted.rows[0].vector_version);
      const written = unique.map((i) => ({ id: input.memories[i].id, vector: input.memories[i].vector }));
      onCommit(() =>
        this.vectorCache.apply(String(ns.ns_id), to - 1, to, (entry) => {
          for (const w of written) entry.put(w.id, w.vector);
        }),
      );
      await this.recordRequest(c, input.requestId, input.memories.map((m) => m.id));
      const memories: Memory[] = input.memories.map((m) => ({
        id: m.id,
        namespace: input.namespace,
        text: m.text,
        metadata: m.metadata,
        vector: [],
        createTime: createTimes.get(m.id) ?? now,
        updateTime: now,
      }));
      return { memories, namespace: namespaceFromRow(counted.rows[0]) };
    });
  }

  private async replayUpsert(c: PoolClient, namespace: string, ids: string[]): Promise<UpsertMemoriesResult> {
    const ns = (await c.query<NamespaceRow>(`SELECT * FROM ${this.t('namespaces')} WHERE name = $1`, [namespace])).rows[0];
    if (!ns) throw namespaceNotFound(namespace);
    const { rows } = await c.query<MemoryRow>(
      `SELECT id, text, metadata, create_time, update_time FROM ${this.t('memories')} WHERE ns_id = $1 AND id = ANY($2::text[])`,
      [ns.ns_id, ids],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const memories = ids.flatMap((id) => {
      const row = byId.get(id);
      return row ? [memoryFromRow(namespace, row, false)] : [];
    });
    return { memories, namespace: namespaceFromRow(ns) };
  }

  async searchMemories(input: SearchMemoriesInput): Promise<SearchMemoriesResult> {
    validateMetadataFilter(input.filter);
    const ns = await this.requireNamespace(input.namespace);
    const query = checkVector(input.vector, ns.dimensions, 'query_vector', ns.name);
    const topK = Math.max(1, input.topK);
    const ranked =
      this.vectorMode === 'pgvector'
        ? await this.rankInDatabase(ns, query, topK, input)
        : ((await this.rankFromCopies(ns, query, topK, input)) ?? (await this.rankHere(ns, query, topK, input)));
    if (ranked.length === 0) return { results: [], namespace: namespaceFromRow(ns) };
    const columns = `id, text, metadata, create_time, update_time${input.includeVectors ? ', vector' : ''}`;
    const rows = await this.read<MemoryRow>(
      `SELECT ${columns} FROM ${this.t('memories')} WHERE ns_id = $1 AND id = ANY($2::text[])`,
      [ns.ns_id, ranked.map((r) => r.id)],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    // A memory deleted between ranking and fetching is simply left out.
    const results = ranked.flatMap((r) => {
      const row = byId.get(r.id);
      return row ? [{ memory: memoryFromRow(ns.name, row, input.includeVectors === true), score: r.score }] : [];
    });
    return { results, namespace: namespaceFromRow(ns) };
  }

  /**
   * Exact cosine from the in-process copies of the namespace's vectors, at
   * the version this search read; the metadata filter still runs in SQL (ids
   * only). Undefined when the copies cannot answer (too big, or a write newer
   * than the copies showed up among the candidates).
   */
  private async rankFromCopies(
    ns: NamespaceRow,
    query: Float32Array,
    topK: number,
    input: SearchMemoriesInput,
  ): Promise<Array<{ id: string; score: number }> | undefined> {
    if (!this.vectorCache.fits(Number(ns.memory_count), ns.dimensions)) return undefined;
    const nsId = String(ns.ns_id);
    const entry = this.vectorCache.get(nsId, Number(ns.vector_version)) ?? (await this.loadCopies(nsId));
    if (!entry || entry.dimensions !== ns.dimensions) return undefined;
    const unit = normalise(query);
    const top = new TopK<string>(topK, input.minScore ?? Number.NEGATIVE_INFINITY);
    const filter = filterToSql(input.filter, 'filter_metadata', 2);
    if (filter.sql === 'true') {
      for (const id of entry.slots.keys()) top.offer({ key: id, id, score: entry.score(unit, id) as number });
    } else {
      const rows = await this.read<{ id: string }>(
        `SELECT id FROM ${this.t('memories')} WHERE ns_id = $1 AND ${filter.sql}`,
        [ns.ns_id, ...filter.params],
      );
      for (const { id } of rows) {
        const score = entry.score(unit, id);
        if (score === undefined) return undefined;
        top.offer({ key: id, id, score });
      }
    }
    return top.result().map((r) => ({ id: r.id, score: r.score }));
  }

  /** Loads every vector of a namespace in one snapshot, with the version it is at. */
  private loadCopies(nsId: string): Promise<NamespaceVectors | undefined> {
    let pending = this.loadingVectors.get(nsId);
    if (!pending) {
      pending = this.tx(async (c) => {
        await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        const { rows } = await c.query<NamespaceRow>(`SELECT * FROM ${this.t('namespaces')} WHERE ns_id = $1`, [nsId]);
        const ns = rows[0];
        if (!ns || !this.vectorCache.fits(Number(ns.memory_count), ns.dimensions)) return undefined;
        const entry = this.vectorCache.begin(ns.dimensions, Number(ns.vector_version), Number(ns.memory_count));
        await c.query(`DECLARE copies NO SCROLL CURSOR FOR SELECT id, vector FROM ${this.t('memories')} WHERE ns_id = $1`, [nsId]);
        for (;;) {
          const batch = await c.query<{ id: string; vector: Buffer }>(`FETCH ${this.config.scanBatchRows} FROM copies`);
          for (const r of batch.rows) entry.put(r.id, float32FromBytes(r.vector));
          if (batch.rows.length < this.config.scanBatchRows) break;
        }
        this.vectorCache.install(nsId, entry);
        return entry;
      }).finally(() => this.loadingVectors.delete(nsId));
      this.loadingVectors.set(nsId, pending);
    }
    return pending;
  }

  /** Hits, loads and bytes of the in-process vector copies (metrics, tests). */
  vectorCacheStats(): CacheStats {
    return this.vectorCache.stats();
  }

  /**
   * Exact cosine over the filtered candidates, streamed through a server-side
   * cursor in batches of (id, vector): one consistent snapshot, no sort, and
   * memory bounded by the batch size and k.
   */
  private async rankHere(
    ns: NamespaceRow,
    query: Float32Array,
    topK: number,
    input: SearchMemoriesInput,
  ): Promise<Array<{ id: string; score: number }>> {
    const unit = normalise(query);
    const filter = filterToSql(input.filter, 'filter_metadata', 2);
    return this.tx(async (c) => {
      const top = new TopK<string>(topK, input.minScore ?? Number.NEGATIVE_INFINITY);
      await c.query('SET TRANSACTION READ ONLY');
      await c.query(
        `DECLARE candidates NO SCROLL CURSOR FOR
         SELECT id, vector FROM ${this.t('memories')} WHERE ns_id = $1 AND ${filter.sql}`,
        [ns.ns_id, ...filter.params],
      );
      for (;;) {
        const { rows } = await c.query<{ id: string; vector: Buffer }>(`FETCH ${this.config.scanBatchRows} FROM candidates`);
        for (const r of rows) {
          top.offer({ key: r.id, id: r.id, score: cosineSimilarity(unit, float32FromBytes(r.vector)) });
        }
        if (rows.length < this.config.scanBatchRows) break;
      }
      return top.result().map((r) => ({ id: r.id, score: r.score }));
    });
  }

  /** pgvector: the same exact ranking, in SQL (`<=>` is cosine distance). */
  private async rankInDatabase(
    ns: NamespaceRow,
    query: Float32Array,
    topK: number,
    input: SearchMemoriesInput,
  ): Promise<Array<{ id: string; score: number }>> {
    const filter = filterToSql(input.filter, 'filter_metadata', 5);
    // Every parameter is referenced (PostgreSQL cannot type an unused one).
    const rows = await this.read<{ id: string; distance: number }>(
      `SELECT id, embedding <=> $1::public.vector AS distance FROM ${this.t('memories')}
       WHERE ns_id = $2 AND ${filter.sql}
         AND ($4::float8 IS NULL OR 1 - (embedding <=> $1::public.vector) >= $4::float8)
       ORDER BY distance, id LIMIT $3`,
      [vectorLiteral(query), ns.ns_id, topK, input.minScore ?? null, ...filter.params],
    );
    return rows.map((r) => ({ id: r.id, score: 1 - Number(r.distance) }));
  }

  async getMemory(namespace: string, id: string, includeVector = false): Promise<Memory> {
    const ns = await this.requireNamespace(namespace);
    const rows = await this.read<MemoryRow>(
      `SELECT id, text, metadata, create_time, update_time${includeVector ? ', vector' : ''}
       FROM ${this.t('memories')} WHERE ns_id = $1 AND id = $2`,
      [ns.ns_id, id],
    );
    if (!rows[0]) throw memoryNotFound(namespace, id);
    return memoryFromRow(namespace, rows[0], includeVector);
  }

  async listMemories(input: ListMemoriesInput): Promise<ListMemoriesResult> {
    validateMetadataFilter(input.filter);
    const ns = await this.requireNamespace(input.namespace);
    const filter = filterToSql(input.filter, 'filter_metadata', 4);
    const limit = Math.max(1, input.limit);
    const rows = await this.read<MemoryRow>(
      `SELECT id, text, metadata, create_time, update_time${input.includeVectors ? ', vector' : ''}
       FROM ${this.t('memories')} WHERE ns_id = $1 AND id > $2 AND ${filter.sql} ORDER BY id LIMIT $3`,
      [ns.ns_id, input.afterId ?? '', limit + 1, ...filter.params],
    );
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      memories: page.map((r) => memoryFromRow(ns.name, r, input.includeVectors === true)),
      nextCursor: more ? page[page.length - 1].id : undefined,
    };
  }

  async deleteMemory(namespace: string, id: string): Promise<{ deleted: boolean }> {
    const outcome = await this.tx(async (c): Promise<{ deleted: boolean; nsId?: string; to?: number }> => {
      const ns = (await c.query<NamespaceRow>(`SELECT * FROM ${this.t('namespaces')} WHERE name = $1 FOR UPDATE`, [namespace])).rows[0];
      if (!ns) return { deleted: false };
      const deleted = await c.query(`DELETE FROM ${this.t('memories')} WHERE ns_id = $1 AND id = $2`, [ns.ns_id, id]);
      const count = deleted.rowCount ?? 0;
      if (count === 0) return { deleted: false };
      const bumped = await c.query<{ vector_version: string }>(
        `UPDATE ${this.t('namespaces')} SET memory_count = memory_count - $2, vector_version = vector_version + 1
         WHERE ns_id = $1 RETURNING vector_version`,
        [ns.ns_id, count],
      );
      return { deleted: true, nsId: String(ns.ns_id), to: Number(bumped.rows[0].vector_version) };
    });
    const { nsId, to } = outcome;
    if (nsId !== undefined && to !== undefined) this.vectorCache.apply(nsId, to - 1, to, (entry) => entry.remove(id));
    return { deleted: outcome.deleted };
  }

  async getNamespace(namespace: string): Promise<Namespace> {
    return namespaceFromRow(await this.requireNamespace(namespace));
  }

  async listNamespaces(input: ListNamespacesInput): Promise<ListNamespacesResult> {
    const limit = Math.max(1, input.limit);
    const rows = await this.read<NamespaceRow>(
      `SELECT * FROM ${this.t('namespaces')} WHERE name > $1 ORDER BY name LIMIT $2`,
      [input.afterName ?? '', limit + 1],
    );
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return { namespaces: page.map(namespaceFromRow), nextCursor: more ? page[page.length - 1].name : undefined };
  }

  async deleteNamespace(namespace: string): Promise<DeleteNamespaceResult> {
    return this.tx(async (c) => {
      // Memories go with it (ON DELETE CASCADE) in the same transaction.
      const { rows } = await c.query<NamespaceRow>(`DELETE FROM ${this.t('namespaces')} WHERE name = $1 RETURNING *`, [namespace]);
      if (!rows[0]) return { deleted: false, deletedMemories: 0 };
      this.vectorCache.drop(String(rows[0].ns_id));
      return { deleted: true, deletedMemories: Number(rows[0].memory_count) };
    });
  }

  // ------------------------------------------------------------ state

  /** Locks the key's row if it exists; an expired row is returned as expired (reads as absent). */
  private async lockState(c: PoolClient, key: string): Promise<StateRow | undefined> {
    const { rows } = await c.query<StateRow>(`SELECT * FROM ${this.t('state')} WHERE key = $1 FOR UPDATE`, [key]);
    return rows[0];
  }

  private static live(row: StateRow | undefined, now: Date): StateRow | undefined {
    if (row && row.expire_time !== null && row.expire_time.getTime() <= now.getTime()) return undefined;
    return row;
  }

  private async putStateIn(c: PoolClient, input: PutStateInput, now: Date): Promise<StateEntry> {
    noNul(input.key, 'key');
    const previous = await this.claimRequest(c, input.requestId, 'putState', input.key, now);
    if (previous) {
      const outcome = previous.outcome as { version: number; create_time: string; update_time: string; expire_time: string | null };
      const live = PostgresStore.live(await this.lockState(c, input.key), now);
      if (live && Number(live.version) === outcome.version) return stateFromRow(live);
      return {
        key: input.key,
        value: undefined,
        version: outcome.version,
        createTime: new Date(outcome.create_time),
        updateTime: new Date(outcome.update_time),
        expireTime: outcome.expire_time ? new Date(outcome.expire_time) : undefined,
      };
    }
    for (;;) {
      const row = await this.lockState(c, input.key);
      const live = PostgresStore.live(row, now);
      const current = live ? Number(live.version) : 0;
      if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
        throw versionConflict('state', input.key, input.expectedVersion, current);
      }
      const bytes = input.value.$case === 'bytesValue' ? input.value.bytesValue : null;
      const struct = input.value.$case === 'structValue' ? JSON.stringify(input.value.structValue ?? {}) : null;
      const expire = input.ttlMs === undefined ? null : new Date(now.getTime() + input.ttlMs);
      const createTime = live?.create_time ?? now;
      const params = [input.key, bytes, struct, current + 1, createTime, now, expire];
      let written: StateRow | undefined;
      if (row) {
        written = (
          await c.query<StateRow>(
            `UPDATE ${this.t('state')} SET bytes_value = $2, struct_value = $3, version = $4, create_time = $5,
               update_time = $6, expire_time = $7 WHERE key = $1 RETURNING *`,
            params,
          )
        ).rows[0];
      } else {
        written = (
          await c.query<StateRow>(
            `INSERT INTO ${this.t('state')} (key, bytes_value, struct_value, version, create_time, update_time, expire_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING RETURNING *`,
            params,
          )
        ).rows[0];
        // A concurrent writer created the key first: compare against its row.
        if (!written) continue;
      }
      await this.recordRequest(c, input.requestId, {
        version: current + 1,
        create_time: createTime.toISOString(),
        update_time: now.toISOString(),
        expire_time: expire?.toISOString() ?? null,
      });
      return stateFromRow(written);
    }
  }

  private async deleteStateIn(c: PoolClient, input: DeleteStateInput, now: Date): Promise<{ deleted: boolean }> {
    noNul(input.key, 'key');
    const previous = await this.claimRequest(c, input.requestId, 'deleteState', input.key, now);
    if (previous) return previous.outcome as { deleted: boolean };
    const row = await this.lockState(c, input.key);
    const live = PostgresStore.live(row, now);
    const current = live ? Number(live.version) : 0;
    if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
      throw versionConflict('state', input.key, input.expectedVersion, current);
    }
    // Also drops an expired row, which reads as absent anyway.
    if (row) await c.query(`DELETE FROM ${this.t('state')} WHERE key = $1`, [input.key]);
    const outcome = { deleted: live !== undefined };
    await this.recordRequest(c, input.requestId, outcome);
    return outcome;
  }

  async putState(input: PutStateInput): Promise<StateEntry> {
    return this.tx((c) => this.putStateIn(c, input, new Date()));
  }

  async getState(key: string): Promise<StateEntry> {
    const rows = await this.read<StateRow>(
      `SELECT * FROM ${this.t('state')} WHERE key = $1 AND (expire_time IS NULL OR expire_time > $2)`,
      [key, new Date()],
    );
    if (!rows[0]) throw stateNotFound(key);
    return stateFromRow(rows[0]);
  }

  async listState(input: ListStateInput): Promise<ListStateResult> {
    const limit = Math.max(1, input.limit);
    const upper = prefixUpperBound(input.prefix);
    const columns = input.keysOnly
      ? 'key, NULL::bytea AS bytes_value, NULL::json AS struct_value, version, create_time, update_time, expire_time'
      : '*';
    const params: unknown[] = [input.afterKey ?? '', input.prefix, new Date()];
    if (upper !== undefined) params.push(upper);
    params.push(limit + 1);
    const rows = await this.read<StateRow>(
      `SELECT ${columns} FROM ${this.t('state')}
       WHERE key > $1 AND key >= $2 AND (expire_time IS NULL OR expire_time > $3) ${upper === undefined ? '' : 'AND key < $4'}
       ORDER BY key LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      entries: page.map((r) => stateFromRow(r, !input.keysOnly)),
      nextCursor: more ? page[page.length - 1].key : undefined,
    };
  }

  async deleteState(input: DeleteStateInput): Promise<{ deleted: boolean }> {
    return this.tx((c) => this.deleteStateIn(c, input, new Date()));
  }

  // ------------------------------------------------------------ batches

  private async applyIn(c: PoolClient, op: WriteOperation, now: Date): Promise<WriteOutcome> {
    switch (op.$case) {
      case 'appendMessages':
        return { $case: 'appendMessages', appendMessages: await this.appendIn(c, op.appendMessages, now) };
      case 'putState':
        return { $case: 'putState', putState: await this.putStateIn(c, op.putState, now) };
      case 'deleteState':
        return { $case: 'deleteState', deleteState: await this.deleteStateIn(c, op.deleteState, now) };
    }
  }

  /** One transaction, one commit; non-atomic batches isolate each operation in a savepoint. */
  async batchWrite(input: BatchWriteInput): Promise<WriteOutcome[]> {
    return this.tx(async (c) => {
      const now = new Date();
      const out: WriteOutcome[] = [];
      for (const [index, op] of input.operations.entries()) {
        if (input.atomic) {
          try {
            out.push(await this.applyIn(c, op, now));
          } catch (error) {
            if (isStoreError(error)) {
              // Both spellings while the contract moves to camelCase metadata keys.
              error.metadata.operationIndex = String(index);
              error.metadata.operation_index = String(index);
            }
            throw error;
          }
          continue;
        }
        await c.query('SAVEPOINT op');
        try {
          out.push(await this.applyIn(c, op, now));
          await c.query('RELEASE SAVEPOINT op');
        } catch (error) {
          if (!isStoreError(error)) throw error;
          await c.query('ROLLBACK TO SAVEPOINT op');
          await c.query('RELEASE SAVEPOINT op');
          out.push({ $case: 'error', error });
        }
      }
      return out;
    });
  }

  // ------------------------------------------------------------ upkeep

  /** Drops expired state and request ids past retention, in bounded slices. */
  async sweep(): Promise<void> {
    const slice = 5000;
    for (;;) {
      if (this.closed) return;
      const now = new Date();
      const expired = await this.tx((c) =>
        c.query(
          `DELETE FROM ${this.t('state')} WHERE key IN (
             SELECT key FROM ${this.t('state')} WHERE expire_time IS NOT NULL AND expire_time <= $1 LIMIT $2)`,
          [now, slice],
        ),
      );
      const old = await this.tx((c) =>
        c.query(
          `DELETE FROM ${this.t('requests')} WHERE request_id IN (
             SELECT request_id FROM ${this.t('requests')} WHERE create_time < $1 LIMIT $2)`,
          [new Date(now.getTime() - this.config.requestRetentionMs), slice],
        ),
      );
      if ((expired.rowCount ?? 0) < slice && (old.rowCount ?? 0) < slice) return;
    }
  }

  /** Drops the whole schema (tests and `memory reset`); the store is closed afterwards. */
  async drop(): Promise<void> {
    this.ensureOpen();
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.s} CASCADE`);
    await this.close();
  }

  /** Pool counters for metrics and tests. */
  get poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.pool.end();
  }
}

/** pgvector's text form of a vector. */
function vectorLiteral(vector: ArrayLike<number>): string {
  return `[${Array.from(vector).join(',')}]`;
}
