export { LeaseManager } from './lease-manager.js';
export type { LeaseManagerEvents, LeaseManagerOptions } from './lease-manager.js';
export type { AcquireResult, Lease, LeaseHolder, LeaseStore } from './lease-store.js';
export { RedisLeaseStore } from './redis-lease-store.js';
export { MemoryStateLeaseStore } from './memory-state-lease-store.js';
export type { LeaseStateClient } from './memory-state-lease-store.js';
export { connectRedis, redisUrlFromEnv } from './redis-connection.js';
export type { RedisConnection } from './redis-connection.js';
