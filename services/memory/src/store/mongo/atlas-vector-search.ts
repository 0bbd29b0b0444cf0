// Atlas Vector Search ($vectorSearch) when the deployment has it: Atlas, or
// MongoDB 8.2+ with mongot. Detected, never assumed: listSearchIndexes fails
// with a server error on deployments without a search process.
//
// A vector index has a fixed number of dimensions while namespaces differ, so
// a memory's vector lives in the field vector<dims> (vector384, …) and there
// is one index per dimension count, with nsId as a filter field. Indexes are
// built asynchronously by the server; until one is queryable, searches scan.
// Search indexes are eventually consistent: a memory upserted a moment ago
// may be missing from $vectorSearch results for about a second.
import type { Collection, Document } from 'mongodb';
import { MongoServerError } from 'mongodb';

export function vectorField(dimensions: number): string {
  return `vector${dimensions}`;
}

export function vectorIndexName(dimensions: number): string {
  return `memories_vector${dimensions}`;
}

export function vectorIndexDefinition(dimensions: number): { name: string; type: string; definition: Document } {
  return {
    name: vectorIndexName(dimensions),
    type: 'vectorSearch',
    definition: {
      fields: [
        { type: 'vector', path: vectorField(dimensions), numDimensions: dimensions, similarity: 'cosine' },
        { type: 'filter', path: 'nsId' },
      ],
    },
  };
}

/** Candidates the ANN search considers: 20× the results asked for (MongoDB's advice), within its 10,000 cap. */
export function numCandidates(topK: number): number {
  return Math.min(10_000, Math.max(100, topK * 20));
}

export function vectorSearchPipeline(options: {
  dimensions: number;
  nsId: string;
  query: ArrayLike<number>;
  topK: number;
}): Document[] {
  const limit = Math.min(options.topK, 10_000);
  return [
    {
      $vectorSearch: {
        index: vectorIndexName(options.dimensions),
        path: vectorField(options.dimensions),
        queryVector: Array.from(options.query),
        numCandidates: Math.max(limit, numCandidates(limit)),
        limit,
        filter: { nsId: { $eq: options.nsId } },
      },
    },
    { $project: { _id: 0, id: 1, score: { $meta: 'vectorSearchScore' } } },
  ];
}

/** $vectorSearch reports cosine as (1 + cos) / 2 in [0, 1]; the store speaks cosine in [-1, 1]. */
export function cosineFromVectorSearchScore(score: number): number {
  return 2 * score - 1;
}

/** Whether the deployment serves search indexes at all. */
export async function probeVectorSearch(collection: Collection<Document>): Promise<boolean> {
  try {
    await collection.listSearchIndexes().toArray();
    return true;
  } catch (error) {
    if (error instanceof MongoServerError) return false;
    throw error;
  }
}

/** Tracks one vector index per dimension count: creates it on first use and caches when it turns queryable. */
export class VectorIndexRegistry {
  private readonly queryable = new Set<number>();
  private readonly checkedAt = new Map<number, number>();
  private readonly creating = new Map<number, Promise<void>>();

  constructor(
    private readonly collection: Collection<Document>,
    private readonly recheckMs = 5000,
  ) {}

  /** Starts building the index for these dimensions if it does not exist (idempotent, never throws). */
  ensure(dimensions: number): Promise<void> {
    let pending = this.creating.get(dimensions);
    if (!pending) {
      pending = (async () => {
        const existing = await this.collection.listSearchIndexes(vectorIndexName(dimensions)).toArray();
        if (existing.length === 0) await this.collection.createSearchIndex(vectorIndexDefinition(dimensions));
      })().catch(() => {
        // Retried on a later upsert; searches scan meanwhile.
        this.creating.delete(dimensions);
      });
      this.creating.set(dimensions, pending);
    }
    return pending;
  }

  /** True once the server reports the index queryable; polled at most every recheckMs. */
  async isQueryable(dimensions: number): Promise<boolean> {
    if (this.queryable.has(dimensions)) return true;
    const last = this.checkedAt.get(dimensions) ?? 0;
    if (Date.now() - last < this.recheckMs) return false;
    this.checkedAt.set(dimensions, Date.now());
    try {
      const [index] = (await this.collection.listSearchIndexes(vectorIndexName(dimensions)).toArray()) as Document[];
      if (index && (index.queryable === true || index.status === 'READY')) {
        this.queryable.add(dimensions);
        return true;
      }
      if (!index) void this.ensure(dimensions);
    } catch {
      // Treated as not queryable; the exact scan answers.
    }
    return false;
  }
}
