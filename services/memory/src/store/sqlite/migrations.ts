// Schema migrations, versioned in code. Each runs once, in order, inside a
// transaction that also bumps schema_version, so a crash mid-migration leaves
// the previous version intact.
import type { DatabaseSync } from 'node:sqlite';

interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'threads, messages, request ids, namespaces, memories, state',
    sql: `
      CREATE TABLE threads (
        id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        metadata TEXT,
        create_time INTEGER NOT NULL,
        update_time INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- Message fields other than the keys live in one JSON body: they are
      -- always read together and never filtered on.
      CREATE TABLE messages (
        thread_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        id TEXT NOT NULL,
        body TEXT NOT NULL,
        create_time INTEGER NOT NULL,
        PRIMARY KEY (thread_id, sequence)
      ) WITHOUT ROWID;

      -- Outcomes of mutating requests by request_id, so a retry replays.
      CREATE TABLE requests (
        request_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        create_time INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX requests_by_time ON requests (create_time);

      -- Memories reference the namespace by surrogate id: deleting a
      -- namespace drops its row at once and its memories in short slices,
      -- and a namespace re-created under the same name never sees them.
      CREATE TABLE namespaces (
        ns_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        embedder TEXT NOT NULL,
        dimensions INTEGER NOT NULL,
        memory_count INTEGER NOT NULL,
        create_time INTEGER NOT NULL
      );

      -- Vectors live apart from the rows a metadata filter scans, so a
      -- filter reads small pages and only candidates' vectors are touched.
      CREATE TABLE memories (
        rowid INTEGER PRIMARY KEY,
        ns_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        text TEXT NOT NULL,
        metadata BLOB,
        create_time INTEGER NOT NULL,
        update_time INTEGER NOT NULL,
        UNIQUE (ns_id, id)
      );
      CREATE TABLE memory_vectors (
        rowid INTEGER PRIMARY KEY,
        vector BLOB NOT NULL
      );
      -- Every scalar leaf of a memory's metadata (dotted path, kind, value):
      -- the index that turns an eq / in / range condition into a candidate
      -- set instead of a scan. kind: s string, n number, t true, f false, z null.
      CREATE TABLE memory_fields (
        mem_rowid INTEGER NOT NULL,
        path TEXT NOT NULL,
        ns_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        value ANY,
        PRIMARY KEY (mem_rowid, path)
      ) WITHOUT ROWID;
      CREATE INDEX memory_fields_lookup ON memory_fields (ns_id, path, kind, value, mem_rowid);

      CREATE TABLE state (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        value BLOB,
        version INTEGER NOT NULL,
        create_time INTEGER NOT NULL,
        update_time INTEGER NOT NULL,
        expire_time INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX state_by_expiry ON state (expire_time) WHERE expire_time IS NOT NULL;
    `,
  },
  {
    version: 2,
    description: 'memories by (namespace, rowid), so vector copies load in rowid slices without re-sorting the namespace',
    sql: `CREATE INDEX memories_by_ns ON memories (ns_id);`,
  },
];

export function migrate(db: DatabaseSync): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
  let current = row.v ?? 0;
  const latest = MIGRATIONS[MIGRATIONS.length - 1].version;
  if (current > latest) {
    throw new Error(`memory.db schema version ${current} is newer than this build supports (${latest})`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
    current = m.version;
  }
  return current;
}
