// Chooses the backend from configuration: ELIXIRCHAIN_STORE (a postgres:// URL
// or "sqlite") — the embedded SQLite file under the data dir by default.
import { errors } from '@elixirchain/runtime';
import type { Store } from './store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { isPostgresUrl } from './postgres/postgres-config.js';

export interface OpenStoreOptions {
  dataDir: string;
  /** Backend URL; default ELIXIRCHAIN_STORE. Empty or "sqlite": SqliteStore. */
  url?: string;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const url = options.url ?? process.env.ELIXIRCHAIN_STORE ?? '';
  if (url === '' || url === 'sqlite') return SqliteStore.open({ dataDir: options.dataDir });
  if (isPostgresUrl(url)) {
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return PostgresStore.open({ connectionString: url });
  }
  throw errors.failedPrecondition('STORE_UNSUPPORTED', 'ELIXIRCHAIN_STORE names a backend this build cannot open', {
    scheme: url.split(':')[0] ?? '',
  });
}
