// Configuration of the PostgreSQL store. Precedence: explicit option >
// ?schema= in the URL > ELIXIRCHAIN_PG_SCHEMA > "elixirchain".

export interface PostgresStoreOptions {
  /** postgres://user@host:port/db[?schema=name]; also read from ELIXIRCHAIN_STORE. */
  connectionString: string;
  /** Schema holding every table; created and migrated at open. Tests use a fresh one and drop it. */
  schema?: string;
  /** Pooled connections (default 10; mind the server's max_connections across replicas). */
  poolSize?: number;
  /** Shown in pg_stat_activity (default "elixirchain-memory"). */
  applicationName?: string;
  connectTimeoutMs?: number;
  /** Server-side statement_timeout for every pooled connection (default 30 s). */
  statementTimeoutMs?: number;
  /** How long request_id outcomes are kept for replay (default 24 h). */
  requestRetentionMs?: number;
  /** Interval of the background sweep (expired state, old request ids); 0 disables. */
  sweepIntervalMs?: number;
  /**
   * auto: pgvector when the extension can be used, exact cosine otherwise;
   * exact: always rank in the store process; pgvector: require the extension.
   */
  vectorSearch?: 'auto' | 'exact' | 'pgvector';
  /** Candidate rows fetched per round trip by the exact scan (default 2000). */
  scanBatchRows?: number;
  /** Bytes of normalised vector copies kept in this process for the exact search (default 256 MiB; 0 disables). */
  vectorCacheBytes?: number;
}

export interface ResolvedPostgresConfig {
  connectionString: string;
  schema: string;
  poolSize: number;
  applicationName: string;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  requestRetentionMs: number;
  sweepIntervalMs: number;
  vectorSearch: 'auto' | 'exact' | 'pgvector';
  scanBatchRows: number;
  vectorCacheBytes: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export function resolvePostgresConfig(options: PostgresStoreOptions): ResolvedPostgresConfig {
  if (!isPostgresUrl(options.connectionString)) {
    throw new Error('PostgreSQL connection string must start with postgres:// or postgresql://');
  }
  // The schema travels in the URL for ELIXIRCHAIN_STORE; pg must not see it.
  const url = new URL(options.connectionString);
  const fromUrl = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  const schema = options.schema ?? fromUrl ?? process.env.ELIXIRCHAIN_PG_SCHEMA ?? 'elixirchain';
  const positive = (name: string, value: number | undefined, fallback: number, allowZero = false): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < 0 || (!allowZero && v === 0)) throw new Error(`PostgresStore option ${name} must be a positive integer`);
    return v;
  };
  return {
    connectionString: url.toString(),
    schema,
    poolSize: positive('poolSize', options.poolSize, 10),
    applicationName: options.applicationName ?? 'elixirchain-memory',
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 5000),
    statementTimeoutMs: positive('statementTimeoutMs', options.statementTimeoutMs, 30_000),
    requestRetentionMs: positive('requestRetentionMs', options.requestRetentionMs, DAY_MS),
    sweepIntervalMs: positive('sweepIntervalMs', options.sweepIntervalMs, 60_000, true),
    vectorSearch: options.vectorSearch ?? 'auto',
    scanBatchRows: positive('scanBatchRows', options.scanBatchRows, 2000),
    vectorCacheBytes: positive('vectorCacheBytes', options.vectorCacheBytes, 256 * 1024 * 1024, true),
  };
}

/** The URL without credentials, for logs. */
export function redactUrl(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}
