// Identical text embeds to the same vector: cache it (bounded by bytes) so a
// repeated query or re-upserted memory costs no model call.
import { ByteLru, type LruStats } from '../cache/byte-lru.js';
import type { Embedder } from './embedder.js';

export class CachingEmbedder implements Embedder {
  private readonly cache: ByteLru<string, Float32Array>;

  constructor(
    private readonly inner: Embedder,
    maxBytes = 32 * 1024 * 1024,
  ) {
    this.cache = new ByteLru(maxBytes, (key, value) => key.length * 2 + value.byteLength + 64);
  }

  get id(): string {
    return this.inner.id;
  }

  get dimensions(): number | undefined {
    return this.inner.dimensions;
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(texts.length);
    const missing: number[] = [];
    texts.forEach((t, i) => {
      const hit = this.cache.get(t);
      if (hit) out[i] = hit;
      else missing.push(i);
    });
    if (missing.length > 0) {
      // Embed each distinct missing text once.
      const distinct = [...new Set(missing.map((i) => texts[i]))];
      const vectors = await this.inner.embed(distinct, signal);
      const byText = new Map(distinct.map((t, j) => [t, vectors[j]]));
      for (const [t, v] of byText) this.cache.set(t, v);
      for (const i of missing) out[i] = byText.get(texts[i]) as Float32Array;
    }
    return out;
  }

  stats(): LruStats {
    return this.cache.stats();
  }
}
