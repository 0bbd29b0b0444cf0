// The memory service process: configuration from the environment, the store
// under ELIXIRCHAIN_DATA_DIR, drain on SIGTERM, then close the store.
import { dataDir, envConfig, loadConfigOrExit, meshAddresses, redisUrlFromEnv, runService } from '@elixirchain/runtime';
import { CachedStore } from './cache/cached-store.js';
import { RedisCacheInvalidation } from './cache/redis-cache-invalidation.js';
import { bootstrapAdminKey } from './admin/bootstrap-admin-key.js';
import { registerMemoryMetrics } from './metrics/memory-metrics.js';
import { createMemoryService } from './server.js';
import { memoryNodeStatus } from './status/node-status.js';
import { describeStoreBackend, resolveStoreBackend } from './store/create-store.js';

const config = loadConfigOrExit('memory', () => ({
  address: meshAddresses().memory,
  dataDir: dataDir(),
  cacheBytes: envConfig.int('ELIXIRCHAIN_MEMORY_CACHE_BYTES', 64 << 20, { min: 0 }),
  synchronous: envConfig.oneOf('ELIXIRCHAIN_SQLITE_SYNCHRONOUS', ['NORMAL', 'FULL'] as const, 'NORMAL'),
  bootstrapAdminKeyFile: envConfig.optionalString('ELIXIRCHAIN_BOOTSTRAP_ADMIN_KEY_FILE'),
  // Several memory replicas: their read caches drop what the others write (Redis pub/sub).
  redisUrl: redisUrlFromEnv(),
  redisPrefix: envConfig.string('ELIXIRCHAIN_REDIS_PREFIX', 'elixirchain:'),
}));

const service = await createMemoryService({
  dataDir: config.dataDir,
  cacheBytes: config.cacheBytes,
  storeConfig: { sqlite: { synchronous: config.synchronous } },
});
registerMemoryMetrics(service.stats);
const invalidation =
  config.redisUrl && service.store instanceof CachedStore ? await RedisCacheInvalidation.attach(service.store, config.redisUrl, config.redisPrefix) : undefined;
const status = memoryNodeStatus(service.stats);
const server = await runService({
  name: 'memory',
  address: config.address,
  services: [service.binding, service.adminBinding, status.binding],
  // Keys are verified against this memory's own store.
  apiKeys: service.keys,
  // The keys are here: a revocation holds from the next call on.
  apiKeyCacheMs: 0,
  onStop: async () => {
    await invalidation?.close();
    await service.store.close();
  },
});
status.setAddress(server.address);
server.logger.info({ store: describeStoreBackend(resolveStoreBackend()), dataDir: config.dataDir }, 'memory store open');
if (config.bootstrapAdminKeyFile) {
  try {
    await bootstrapAdminKey(service.keys, config.bootstrapAdminKeyFile, server.logger);
  } catch (error) {
    server.logger.error({ err: error }, 'bootstrap admin key not created');
  }
}
