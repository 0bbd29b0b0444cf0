import { nodeStatusService, type NodeStatusBinding } from '@elixirchain/runtime';
import type { LruStats } from '../cache/byte-lru.js';
import type { MemoryStats } from '../server.js';

const cacheStats = (s: LruStats) => ({ hits: s.hits, misses: s.misses, evictions: s.evictions, bytes: s.bytes, entries: s.entries, maxBytes: s.maxBytes });

/** NodeStatusService for memory: the store and its caches, from the same stats() its metrics read. */
export function memoryNodeStatus(stats: () => MemoryStats): NodeStatusBinding {
  return nodeStatusService({
    service: 'memory',
    details: () => {
      const s = stats();
      return {
        $case: 'memory',
        memory: {
          store: s.store,
          ...(s.cache ? { cache: cacheStats(s.cache) } : {}),
          embeddingCaches: Object.fromEntries(Object.entries(s.embeddingCache).map(([name, e]) => [name, cacheStats(e)])),
        },
      };
    },
  });
}
