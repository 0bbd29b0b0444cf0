// Resolves embedder ids recorded on namespaces to live embedders, each wrapped
// in the embedding cache. The default is OpenAI-compatible when a key is
// configured and the offline hashed-n-gram embedder otherwise.
import { CachingEmbedder } from './caching-embedder.js';
import type { Embedder } from './embedder.js';
import { HASHED_NGRAM_ID, HashedNgramEmbedder } from './hashed-ngram-embedder.js';
import { OpenAiEmbedder, type OpenAiEmbedderOptions } from './openai-embedder.js';

export interface EmbedderRegistryOptions {
  /** Id of the default embedder; default: "openai:<model>" with OPENAI_API_KEY set, else hashed-ngram-v1. */
  defaultEmbedder?: string;
  /** Settings for openai:* embedders (key, base URL…); false disables them. */
  openai?: OpenAiEmbedderOptions | false;
  /** Bytes of the embedding cache, per embedder. */
  cacheBytes?: number;
  /** Extra embedders by id (tests, custom models). */
  extra?: Embedder[];
}

export class EmbedderUnavailableError extends Error {
  constructor(readonly embedderId: string, reason: string) {
    super(`embedder "${embedderId}" is not available: ${reason}`);
    this.name = 'EmbedderUnavailableError';
  }
}

export class EmbedderRegistry {
  private readonly embedders = new Map<string, CachingEmbedder>();
  readonly defaultId: string;

  constructor(private readonly options: EmbedderRegistryOptions = {}) {
    for (const e of options.extra ?? []) this.embedders.set(e.id, new CachingEmbedder(e, options.cacheBytes));
    const key = options.openai === false ? undefined : (options.openai?.apiKey ?? process.env.OPENAI_API_KEY);
    this.defaultId =
      options.defaultEmbedder ??
      process.env.ELIXIRCHAIN_EMBEDDER ??
      (key ? `openai:${options.openai ? (options.openai.model ?? 'text-embedding-3-small') : (process.env.OPENAI_EMBEDDING_MODEL ?? 'text-embedding-3-small')}` : HASHED_NGRAM_ID);
  }

  /** The embedder for id, created on first use. Throws EmbedderUnavailableError. */
  get(id: string = this.defaultId): CachingEmbedder {
    const known = this.embedders.get(id);
    if (known) return known;
    const embedder = new CachingEmbedder(this.create(id), this.options.cacheBytes);
    this.embedders.set(id, embedder);
    return embedder;
  }

  private create(id: string): Embedder {
    const hashed = /^hashed-ngram-v1(?::d(\d+):n(\d+)-(\d+))?$/.exec(id);
    if (hashed) {
      return hashed[1]
        ? new HashedNgramEmbedder({ dimensions: Number(hashed[1]), minN: Number(hashed[2]), maxN: Number(hashed[3]) })
        : new HashedNgramEmbedder();
    }
    const openai = /^openai:([^:]+)(?::d(\d+))?$/.exec(id);
    if (openai) {
      if (this.options.openai === false) throw new EmbedderUnavailableError(id, 'OpenAI embeddings are disabled');
      const settings = this.options.openai ?? {};
      if (!(settings.apiKey ?? process.env.OPENAI_API_KEY)) {
        throw new EmbedderUnavailableError(id, 'OPENAI_API_KEY is not set');
      }
      return new OpenAiEmbedder({
        ...settings,
        model: openai[1],
        dimensions: openai[2] ? Number(openai[2]) : settings.dimensions,
      });
    }
    throw new EmbedderUnavailableError(id, 'unknown embedder id');
  }

  /** Cache counters per embedder id, for metrics. */
  stats(): Record<string, ReturnType<CachingEmbedder['stats']>> {
    return Object.fromEntries([...this.embedders].map(([id, e]) => [id, e.stats()]));
  }
}
