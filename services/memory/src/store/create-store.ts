// Chooses and opens the storage backend. Precedence (explicit argument >
// environment > default): config.url, then ELIXIRCHAIN_STORE, then
// MONGODB_URL, then the embedded SQLite file under the data directory.
//   ELIXIRCHAIN_STORE=sqlite | postgres://… | postgresql://… | mongodb://… | mongodb+srv://…
// Backend knobs from the environment:
//   ELIXIRCHAIN_PG_SCHEMA (or ?schema= in the URL), ELIXIRCHAIN_PG_POOL_SIZE,
//   ELIXIRCHAIN_PG_VECTOR_CACHE_BYTES (in-process vector copies; 0 disables),
//   ELIXIRCHAIN_MONGO_DATABASE (or the URL path),
//   ELIXIRCHAIN_VECTOR_SEARCH = auto | exact (pgvector / $vectorSearch when detected, or never).
// The networked drivers are imported only when chosen.
import type { Store } from './store.js';
import { StoreError, StoreErrorCode } from './store-errors.js';
import type { SqliteStoreOptions } from './sqlite/sqlite-store.js';
import { isPostgresUrl, redactUrl, type PostgresStoreOptions } from './postgres/postgres-config.js';
import { isMongoUrl, redactMongoUrl, type MongoStoreOptions } from './mongo/mongo-config.js';

export type StoreBackend =
  | { kind: 'sqlite' }
  | { kind: 'postgres'; url: string }
  | { kind: 'mongodb'; url: string };

export interface StoreConfig {
  /** Where the SQLite file lives (default ELIXIRCHAIN_DATA_DIR or ./.elixirchain). */
  dataDir?: string;
  /** Backend URL or "sqlite"; overrides the environment. */
  url?: string;
  /** Environment to read (default process.env); tests pass their own. */
  env?: Record<string, string | undefined>;
  sqlite?: Omit<SqliteStoreOptions, 'dataDir'>;
  postgres?: Omit<PostgresStoreOptions, 'connectionString'>;
  mongo?: Omit<MongoStoreOptions, 'url'>;
}

function badConfig(variable: string, description: string): StoreError {
  return new StoreError(StoreErrorCode.FAILED_PRECONDITION, 'STORE_CONFIG_INVALID', `${variable}: ${description}`, { variable });
}

/** Which backend the configuration names (no connection is made). */
export function resolveStoreBackend(config: StoreConfig = {}): StoreBackend {
  const env = config.env ?? process.env;
  const explicit = config.url ?? env.ELIXIRCHAIN_STORE;
  const source = config.url !== undefined ? 'store url' : 'ELIXIRCHAIN_STORE';
  const url = (explicit ?? '').trim();
  if (url === '') {
    const mongo = (env.MONGODB_URL ?? '').trim();
    if (mongo === '') return { kind: 'sqlite' };
    if (!isMongoUrl(mongo)) throw badConfig('MONGODB_URL', 'must start with mongodb:// or mongodb+srv://');
    return { kind: 'mongodb', url: mongo };
  }
  if (url.toLowerCase() === 'sqlite') return { kind: 'sqlite' };
  if (isPostgresUrl(url)) return { kind: 'postgres', url };
  if (isMongoUrl(url)) return { kind: 'mongodb', url };
  throw badConfig(source, `"${url.split(':')[0]}" is not a backend: use sqlite, postgres://…, or mongodb://…`);
}

/** For logs: the backend and its URL without credentials. */
export function describeStoreBackend(backend: StoreBackend): string {
  switch (backend.kind) {
    case 'sqlite':
      return 'sqlite';
    case 'postgres':
      return `postgres ${redactUrl(backend.url)}`;
    case 'mongodb':
      return `mongodb ${redactMongoUrl(backend.url)}`;
  }
}

function intFromEnv(env: Record<string, string | undefined>, name: string, allowZero = false): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || (n === 0 && !allowZero)) {
    throw badConfig(name, allowZero ? 'must be a non-negative integer' : 'must be a positive integer');
  }
  return n;
}

function vectorSearchFromEnv(env: Record<string, string | undefined>): 'auto' | 'exact' | undefined {
  const raw = env.ELIXIRCHAIN_VECTOR_SEARCH;
  if (raw === undefined || raw === '') return undefined;
  if (raw !== 'auto' && raw !== 'exact') throw badConfig('ELIXIRCHAIN_VECTOR_SEARCH', 'must be auto or exact');
  return raw;
}

/** Opens the configured backend, migrated / indexed and ready. */
export async function createStore(config: StoreConfig = {}): Promise<Store> {
  const env = config.env ?? process.env;
  const backend = resolveStoreBackend(config);
  switch (backend.kind) {
    case 'sqlite': {
      const { SqliteStore } = await import('./sqlite/sqlite-store.js');
      return SqliteStore.open({ ...config.sqlite, dataDir: config.dataDir ?? env.ELIXIRCHAIN_DATA_DIR ?? './.elixirchain' });
    }
    case 'postgres': {
      const { PostgresStore } = await import('./postgres/postgres-store.js');
      return PostgresStore.open({
        poolSize: intFromEnv(env, 'ELIXIRCHAIN_PG_POOL_SIZE'),
        vectorCacheBytes: intFromEnv(env, 'ELIXIRCHAIN_PG_VECTOR_CACHE_BYTES', true),
        // ?schema= in the URL wins over the environment.
        schema: new URL(backend.url).searchParams.has('schema') ? undefined : env.ELIXIRCHAIN_PG_SCHEMA || undefined,
        vectorSearch: vectorSearchFromEnv(env),
        ...config.postgres,
        connectionString: backend.url,
      });
    }
    case 'mongodb': {
      const { MongoStore } = await import('./mongo/mongo-store.js');
      return MongoStore.open({
        database: env.ELIXIRCHAIN_MONGO_DATABASE || undefined,
        vectorSearch: vectorSearchFromEnv(env),
        ...config.mongo,
        url: backend.url,
      });
    }
  }
}
