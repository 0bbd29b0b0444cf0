// @elixirchain/memory: the memory service, its storage interface and backends.
export { startMemoryServer, createMemoryService } from './server.js';
export type { MemoryServer, MemoryServerOptions, MemoryStats } from './server.js';
export type * from './store/store.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export type { SqliteStoreOptions } from './store/sqlite/sqlite-store.js';
export { createStore, resolveStoreBackend, describeStoreBackend } from './store/create-store.js';
export type { StoreConfig, StoreBackend } from './store/create-store.js';
export { StoreError, StoreErrorCode, StoreErrorReason, isStoreError } from './store/store-errors.js';
export { matchesMetadataFilter, validateMetadataFilter } from './store/metadata-filter.js';
export { CachedStore } from './cache/cached-store.js';
export type { Embedder } from './embedders/embedder.js';
export { HashedNgramEmbedder, HASHED_NGRAM_ID } from './embedders/hashed-ngram-embedder.js';
export { OpenAiEmbedder } from './embedders/openai-embedder.js';
export { CachingEmbedder } from './embedders/caching-embedder.js';
export { EmbedderRegistry } from './embedders/embedder-registry.js';
export { LIMITS } from './service/limits.js';
