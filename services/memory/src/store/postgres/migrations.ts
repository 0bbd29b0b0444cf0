// Schema migrations for the PostgreSQL store, versioned in code. Each runs
// once, in order, in its own transaction together with its schema_migrations
// row; an advisory lock keyed by the schema name serialises replicas that
// start at the same time.
import type { PoolClient } from 'pg';
import { StoreError, StoreErrorCode } from '../store-errors.js';

interface Migration {
  version: number;
  description: string;
  /** SQL with {s} standing for the quoted schema name. */
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'threads, messages, request ids, namespaces, memories, state',
    sql: `
      -- Ids and keys sort by bytes (COLLATE "C"), as every backend pages them.
      CREATE TABLE {s}.threads (
        id text COLLATE "C" PRIMARY KEY,
        version bigint NOT NULL,
        metadata json,
        create_time timestamptz NOT NULL,
        update_time timestamptz NOT NULL
      );

      -- Message fields other than the keys travel as one json body (json, not
      -- jsonb: it keeps \\u0000 and is never filtered on).
      CREATE TABLE {s}.messages (
        thread_id text COLLATE "C" NOT NULL REFERENCES {s}.threads (id) ON DELETE CASCADE,
        sequence bigint NOT NULL,
        id text NOT NULL,
        body json NOT NULL,
        create_time timestamptz NOT NULL,
        PRIMARY KEY (thread_id, sequence)
      );

      -- The idempotency keys: one row per request_id, inserted first in the
      -- transaction that does the write, so a concurrent retry waits on the
      -- unique index and then replays the committed outcome.
      CREATE TABLE {s}.requests (
        request_id text PRIMARY KEY,
        kind text NOT NULL,
        target text NOT NULL,
        outcome json,
        create_time timestamptz NOT NULL
      );
      CREATE INDEX requests_by_time ON {s}.requests (create_time);

      CREATE TABLE {s}.namespaces (
        ns_id bigserial PRIMARY KEY,
        name text COLLATE "C" NOT NULL UNIQUE,
        embedder text NOT NULL,
        dimensions integer NOT NULL CHECK (dimensions > 0),
        memory_count bigint NOT NULL DEFAULT 0,
        create_time timestamptz NOT NULL
      );

      -- text and metadata are kept exactly (json); filter_metadata is the
      -- jsonb copy that filters run on (jsonb cannot hold \\u0000, which is
      -- dropped from it and from filter values alike). vector: float32 LE.
      CREATE TABLE {s}.memories (
        ns_id bigint NOT NULL REFERENCES {s}.namespaces (ns_id) ON DELETE CASCADE,
        id text COLLATE "C" NOT NULL,
        text json NOT NULL,
        metadata json,
        filter_metadata jsonb NOT NULL DEFAULT '{}',
        vector bytea NOT NULL,
        create_time timestamptz NOT NULL,
        update_time timestamptz NOT NULL,
        PRIMARY KEY (ns_id, id)
      );
      CREATE INDEX memories_filter_metadata ON {s}.memories USING gin (filter_metadata jsonb_path_ops);

      CREATE TABLE {s}.state (
        key text COLLATE "C" PRIMARY KEY,
        bytes_value bytea,
        struct_value json,
        version bigint NOT NULL,
        create_time timestamptz NOT NULL,
        update_time timestamptz NOT NULL,
        expire_time timestamptz
      );
      CREATE INDEX state_by_expiry ON {s}.state (expire_time) WHERE expire_time IS NOT NULL;
    `,
  },
  {
    version: 2,
    description: 'namespaces.vector_version: bumped by every memory write, so in-process vector copies know when they are stale',
    sql: `ALTER TABLE {s}.namespaces ADD COLUMN vector_version bigint NOT NULL DEFAULT 0;`,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** Brings the schema to LATEST_VERSION; returns the version it found. */
export async function migrate(client: PoolClient, schema: string): Promise<number> {
  const s = quoteIdent(schema);
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [`elixirchain-memory:${schema}`]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
         version integer PRIMARY KEY,
         description text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s}.schema_migrations`);
    const found = rows[0]?.v ?? 0;
    if (found > LATEST_VERSION) {
      throw new StoreError(
        StoreErrorCode.FAILED_PRECONDITION,
        'SCHEMA_TOO_NEW',
        `schema "${schema}" is at version ${found}, newer than this build supports (${LATEST_VERSION}); run a newer build`,
        { schema, version: String(found), supported: String(LATEST_VERSION) },
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= found) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql.replaceAll('{s}', s));
        await client.query(`INSERT INTO ${s}.schema_migrations (version, description) VALUES ($1, $2)`, [
          m.version,
          m.description,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
    return found;
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`elixirchain-memory:${schema}`]);
  }
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names are validated, then double-quoted; they never come from a request. */
export function quoteIdent(name: string): string {
  if (!IDENT.test(name)) {
    throw new Error(`PostgreSQL schema name "${name}" must match ${IDENT} (lower-case letters, digits, _)`);
  }
  return `"${name}"`;
}
