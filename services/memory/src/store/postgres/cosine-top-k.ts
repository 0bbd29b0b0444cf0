// Exact cosine ranking in JS for backends without an in-database vector index
// (PostgreSQL without pgvector, MongoDB without $vectorSearch). Candidates
// arrive in batches; only the best k are kept, so memory stays O(k).

/** Cosine similarity of a unit-normalised query with a raw vector; NaN-free for non-zero inputs. */
export function cosineSimilarity(unitQuery: Float32Array, vector: ArrayLike<number>): number {
  let dot = 0;
  let norm = 0;
  for (let i = 0; i < unitQuery.length; i++) {
    const x = vector[i];
    dot += unitQuery[i] * x;
    norm += x * x;
  }
  return norm > 0 ? dot / Math.sqrt(norm) : 0;
}

export function normalise(vector: ArrayLike<number>): Float32Array {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i] * vector[i];
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] * scale;
  return out;
}

/** Float32 little-endian bytes (how both backends store vectors) as a view or an aligned copy. */
export function float32FromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Float32Array(new Uint8Array(bytes).buffer, 0, bytes.byteLength / 4);
}

export function float32ToBytes(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

export interface Scored<K> {
  key: K;
  id: string;
  score: number;
}

/** Higher score first; ties by id (byte order), like every backend's ORDER BY distance, id. */
function better(a: Scored<unknown>, b: Scored<unknown>): boolean {
  if (a.score !== b.score) return a.score > b.score;
  return Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)) < 0;
}

/** Keeps the k best candidates seen so far (a bounded min-heap on score). */
export class TopK<K> {
  private readonly heap: Scored<K>[] = [];

  constructor(
    private readonly k: number,
    private readonly minScore: number = Number.NEGATIVE_INFINITY,
  ) {}

  offer(candidate: Scored<K>): void {
    if (candidate.score < this.minScore || this.k <= 0) return;
    const heap = this.heap;
    if (heap.length < this.k) {
      heap.push(candidate);
      this.up(heap.length - 1);
    } else if (better(candidate, heap[0])) {
      heap[0] = candidate;
      this.down(0);
    }
  }

  /** Best first. */
  result(): Scored<K>[] {
    return [...this.heap].sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
  }

  // The root is the worst kept candidate.
  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!better(heap[parent], heap[i])) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < heap.length && better(heap[worst], heap[l])) worst = l;
      if (r < heap.length && better(heap[worst], heap[r])) worst = r;
      if (worst === i) return;
      [heap[worst], heap[i]] = [heap[i], heap[worst]];
      i = worst;
    }
  }
}
