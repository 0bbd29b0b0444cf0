// Cache counters as OpenTelemetry observable instruments. Without a meter
// provider they cost nothing; with one (OTLP or Prometheus) they are read at
// each collection from the same stats() the tests and benchmarks use.
import { metrics } from '@opentelemetry/api';
import type { MemoryStats } from '../server.js';

export function registerMemoryMetrics(stats: () => MemoryStats): void {
  const meter = metrics.getMeter('elixirchain.memory');
  const hits = meter.createObservableCounter('elixirchain.memory.cache.hits', { description: 'Reads served by the thread/memory/state cache' });
  const misses = meter.createObservableCounter('elixirchain.memory.cache.misses', { description: 'Reads that went to the store' });
  const evictions = meter.createObservableCounter('elixirchain.memory.cache.evictions', { description: 'Entries evicted to stay within the byte budget' });
  const bytes = meter.createObservableGauge('elixirchain.memory.cache.bytes', { unit: 'By', description: 'Estimated bytes held by the cache' });
  const embedHits = meter.createObservableCounter('elixirchain.memory.embedding_cache.hits', { description: 'Embeddings served from the cache' });
  const embedMisses = meter.createObservableCounter('elixirchain.memory.embedding_cache.misses', { description: 'Texts sent to an embedder' });
  meter.addBatchObservableCallback(
    (result) => {
      const s = stats();
      const attrs = { store: s.store };
      if (s.cache) {
        result.observe(hits, s.cache.hits, attrs);
        result.observe(misses, s.cache.misses, attrs);
        result.observe(evictions, s.cache.evictions, attrs);
        result.observe(bytes, s.cache.bytes, attrs);
      }
      for (const [embedder, e] of Object.entries(s.embeddingCache)) {
        result.observe(embedHits, e.hits, { embedder });
        result.observe(embedMisses, e.misses, { embedder });
      }
    },
    [hits, misses, evictions, bytes, embedHits, embedMisses],
  );
}
