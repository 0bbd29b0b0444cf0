// startMemoryServer: the memory service in-process (tests, the launcher) on a
// given address, over any Store (SQLite under dataDir by default), with the
// byte-bounded cache in front of it.
import { Authenticator, startServer, type AuthOptions, type RunningServer } from '@elixirchain/runtime';
import { adminServiceBinding } from './admin/admin-service.js';
import { StoredApiKeys } from './admin/stored-api-keys.js';
import { AuditLog } from './audit/audit-log.js';
import { CachedStore } from './cache/cached-store.js';
import type { LruStats } from './cache/byte-lru.js';
import { EmbedderRegistry, type EmbedderRegistryOptions } from './embedders/embedder-registry.js';
import { memoryServiceBinding } from './service/memory-service.js';
import { createStore, resolveStoreBackend, type StoreConfig } from './store/create-store.js';
import type { Store } from './store/store.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import type { VectorCacheStats } from './store/sqlite/vector-cache.js';
import { memoryNodeStatus } from './status/node-status.js';

export interface MemoryServerOptions {
  /** host:port; '127.0.0.1:0' picks a free port. */
  address: string;
  /** Where memory.db lives (SQLite). Default ELIXIRCHAIN_DATA_DIR or ./.elixirchain. */
  dataDir?: string;
  /** A ready store (any backend); the server closes it on stop. Default: createStore (ELIXIRCHAIN_STORE, MONGODB_URL, else SQLite). */
  store?: Store;
  /** Backend settings for createStore when no store is given. */
  storeConfig?: Omit<StoreConfig, 'dataDir'>;
  /** Bytes of the thread/memory/state cache; 0 disables it. Default 64 MiB. */
  cacheBytes?: number;
  embedders?: EmbedderRegistryOptions;
  /** Authentication (API keys come from this memory's own key store); default: local developer mode. */
  auth?: Omit<AuthOptions, 'apiKeys'>;
}

export interface MemoryStats {
  store: string;
  cache: LruStats | undefined;
  /** In-memory vector copies (SQLite store only). */
  vectors: VectorCacheStats | undefined;
  embeddingCache: Record<string, LruStats>;
}

export interface MemoryServer {
  readonly address: string;
  readonly server: RunningServer;
  /** The store the service uses (behind its cache). */
  readonly store: Store;
  /** The backend below the cache. */
  readonly backend: Store;
  /** Cache hit/miss counters, for metrics. */
  stats(): MemoryStats;
  /** Drains the server, then closes the store. Idempotent. */
  stop(): Promise<void>;
}

/**
 * SQLite is opened through a static import: a dynamically imported module can
 * be a second instance under mocha's CommonJS loader, and its ElixirErrors then
 * fail the runtime's instanceof checks. The networked drivers load lazily.
 */
async function openBackend(options: Omit<MemoryServerOptions, 'address'>): Promise<Store> {
  const config: StoreConfig = { ...options.storeConfig, dataDir: options.dataDir };
  if (resolveStoreBackend(config).kind === 'sqlite') {
    return SqliteStore.open({ ...config.sqlite, dataDir: options.dataDir ?? process.env.ELIXIRCHAIN_DATA_DIR ?? './.elixirchain' });
  }
  return createStore(config);
}

/** The service pieces without a server: for runService in main.ts and for benchmarks. */
export async function createMemoryService(options: Omit<MemoryServerOptions, 'address'>) {
  const backend = options.store ?? (await openBackend(options));
  const cacheBytes = options.cacheBytes ?? 64 * 1024 * 1024;
  const cache = cacheBytes > 0 ? new CachedStore(backend, { maxBytes: cacheBytes }) : undefined;
  const store: Store = cache ?? backend;
  const embedders = new EmbedderRegistry(options.embedders);
  // Keys and audit events are system records in the same store, outside every tenant.
  const keys = new StoredApiKeys(store);
  const audit = new AuditLog(store);
  return {
    store,
    binding: memoryServiceBinding({ store, embedders, audit }),
    adminBinding: adminServiceBinding({ keys, audit }),
    keys,
    audit,
    /** The backend below the cache. */
    backend,
    stats: (): MemoryStats => ({
      store: backend.kind,
      cache: cache?.stats(),
      vectors: backend instanceof SqliteStore ? backend.vectorCacheStats() : undefined,
      embeddingCache: embedders.stats(),
    }),
  };
}

export async function startMemoryServer(options: MemoryServerOptions): Promise<MemoryServer> {
  const service = await createMemoryService(options);
  let server: RunningServer;
  const status = memoryNodeStatus(service.stats);
  try {
    server = await startServer({
      name: 'memory',
      address: options.address,
      services: [service.binding, service.adminBinding, status.binding],
      auth: options.auth ? { mode: 'required', authenticator: new Authenticator({ ...options.auth, apiKeys: service.keys }) } : undefined,
    });
  } catch (error) {
    await service.store.close();
    throw error;
  }
  status.setAddress(server.address);
  let stopping: Promise<void> | undefined;
  return {
    address: server.address,
    server,
    store: service.store,
    backend: service.backend,
    stats: service.stats,
    stop: () =>
      (stopping ??= (async () => {
        await server.drain();
        await service.store.close();
      })()),
  };
}
