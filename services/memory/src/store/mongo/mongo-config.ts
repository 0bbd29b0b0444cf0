// Configuration of the MongoDB store. Precedence: explicit option >
// ELIXIRCHAIN_STORE (mongodb://… or mongodb+srv://…) > MONGODB_URL.

export interface MongoStoreOptions {
  /** mongodb://… or mongodb+srv://…; the path names the database when `database` is not given. */
  url: string;
  /**
   * A client to use instead of opening one from url (an application sharing
   * one pool, or a test). The store does not close a client it was given.
   */
  client?: import('mongodb').MongoClient;
  /** Database holding every collection (default: the URL's, else "elixirchain"). */
  database?: string;
  /** auto: $vectorSearch where the deployment offers it; atlas: require it; exact: always scan. */
  vectorSearch?: 'auto' | 'atlas' | 'exact';
  /** auto: multi-document transactions on replica sets and sharded clusters; off: always the standalone path. */
  transactions?: 'auto' | 'off';
  /** How long request_id outcomes are kept for replay (TTL index; default 24 h). */
  requestRetentionMs?: number;
  /** Standalone path: a half-written append older than this is abandoned and cleared (default 30 s). */
  orphanTimeoutMs?: number;
  serverSelectionTimeoutMs?: number;
  maxPoolSize?: number;
  /** Candidates per batch of the exact scan (default 1000). */
  scanBatchRows?: number;
  /** Stop waiting for a busy thread (standalone path) after this long (default 10 s). */
  busyTimeoutMs?: number;
}

export interface ResolvedMongoConfig {
  url: string;
  database: string;
  vectorSearch: 'auto' | 'atlas' | 'exact';
  transactions: 'auto' | 'off';
  requestRetentionMs: number;
  orphanTimeoutMs: number;
  serverSelectionTimeoutMs: number;
  maxPoolSize: number;
  scanBatchRows: number;
  busyTimeoutMs: number;
}

export function isMongoUrl(url: string): boolean {
  return /^mongodb(\+srv)?:\/\//i.test(url);
}

/** The database named in the URL path, if any (mongodb://h/db?x=y). */
export function databaseFromUrl(url: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]*\/([^?]+)/i.exec(url);
  const name = match ? decodeURIComponent(match[1]) : '';
  return name === '' ? undefined : name;
}

export function resolveMongoConfig(options: MongoStoreOptions): ResolvedMongoConfig {
  if (!isMongoUrl(options.url)) throw new Error('MongoDB URL must start with mongodb:// or mongodb+srv://');
  const database = options.database ?? databaseFromUrl(options.url) ?? 'elixirchain';
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(database)) {
    throw new Error(`MongoDB database name "${database}" must be 1-63 characters of [A-Za-z0-9_-]`);
  }
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v <= 0) throw new Error(`MongoStore option ${name} must be a positive integer`);
    return v;
  };
  return {
    url: options.url,
    database,
    vectorSearch: options.vectorSearch ?? 'auto',
    transactions: options.transactions ?? 'auto',
    requestRetentionMs: positive('requestRetentionMs', options.requestRetentionMs, 24 * 60 * 60 * 1000),
    orphanTimeoutMs: positive('orphanTimeoutMs', options.orphanTimeoutMs, 30_000),
    serverSelectionTimeoutMs: positive('serverSelectionTimeoutMs', options.serverSelectionTimeoutMs, 5000),
    maxPoolSize: positive('maxPoolSize', options.maxPoolSize, 20),
    scanBatchRows: positive('scanBatchRows', options.scanBatchRows, 1000),
    busyTimeoutMs: positive('busyTimeoutMs', options.busyTimeoutMs, 10_000),
  };
}

/** The URL without credentials, for logs. */
export function redactMongoUrl(url: string): string {
  return url.replace(/^(mongodb(?:\+srv)?:\/\/)([^@/]*)@/i, (_m, scheme: string) => `${scheme}***@`);
}
