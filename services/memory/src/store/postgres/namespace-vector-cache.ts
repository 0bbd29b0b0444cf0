// Normalised copies of a namespace's vectors in this process, so the exact
// search without pgvector ranks from memory instead of pulling every vector
// over the wire on every query.
//
// Consistency across replicas: every memory write bumps the namespace row's
// vector_version in the same transaction. A copy is used only when its
// version equals the version the search just read, so a search never misses
// a write committed before it started, whichever replica made it. This
// process's own writes are applied to the copy in place (version v -> v+1);
// a write by anyone else leaves a gap in versions and the copy is reloaded.
// Bounded by bytes across namespaces, least recently used evicted first.

export interface CacheStats {
  loads: number;
  hits: number;
  evictions: number;
  bytes: number;
  namespaces: number;
}

class NamespaceVectors {
  readonly slots = new Map<string, number>();
  private free: number[] = [];
  data: Float32Array;
  private used = 0;

  constructor(
    readonly dimensions: number,
    public version: number,
    capacity: number,
  ) {
    this.data = new Float32Array(Math.max(1, capacity) * dimensions);
  }

  get bytes(): number {
    return this.data.byteLength;
  }

  /** Stores a unit-length copy of vector under id (replacing an earlier one). */
  put(id: string, vector: ArrayLike<number>): void {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.used++;
      if ((slot + 1) * this.dimensions > this.data.length) {
        const grown = new Float32Array(Math.max(this.data.length * 2, (slot + 1) * this.dimensions));
        grown.set(this.data);
        this.data = grown;
      }
      this.slots.set(id, slot);
    }
    let norm = 0;
    for (let i = 0; i < this.dimensions; i++) norm += vector[i] * vector[i];
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    const base = slot * this.dimensions;
    for (let i = 0; i < this.dimensions; i++) this.data[base + i] = vector[i] * scale;
  }

  remove(id: string): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    this.slots.delete(id);
    this.free.push(slot);
  }

  /** Cosine of a unit query with the copy of id; undefined when id is not held. */
  score(unitQuery: Float32Array, id: string): number | undefined {
    const slot = this.slots.get(id);
    if (slot === undefined) return undefined;
    const base = slot * this.dimensions;
    let dot = 0;
    for (let i = 0; i < this.dimensions; i++) dot += unitQuery[i] * this.data[base + i];
    return dot;
  }
}

export class NamespaceVectorCache {
  private readonly entries = new Map<string, NamespaceVectors>();
  private readonly counters = { loads: 0, hits: 0, evictions: 0 };

  constructor(readonly maxBytes: number) {}

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  /** Whether a namespace of this size may be held at all. */
  fits(count: number, dimensions: number): boolean {
    return this.enabled && count * dimensions * 4 <= this.maxBytes;
  }

  /** The copy of nsId at exactly this version, if held (marks it recently used). */
  get(nsId: string, version: number): NamespaceVectors | undefined {
    const entry = this.entries.get(nsId);
    if (!entry || entry.version !== version) return undefined;
    this.entries.delete(nsId);
    this.entries.set(nsId, entry);
    this.counters.hits += 1;
    return entry;
  }

  /** Starts a fresh copy being loaded for version; add rows to it, then commit it with install(). */
  begin(dimensions: number, version: number, expectedCount: number): NamespaceVectors {
    return new NamespaceVectors(dimensions, version, expectedCount);
  }

  install(nsId: string, entry: NamespaceVectors): void {
    this.counters.loads += 1;
    this.entries.delete(nsId);
    if (entry.bytes > this.maxBytes) return;
    this.entries.set(nsId, entry);
    this.evict();
  }

  /**
   * Applies this process's own committed write (version from -> to). A copy
   * at any other version missed someone else's write: it is dropped.
   */
  apply(nsId: string, from: number, to: number, change: (entry: NamespaceVectors) => void): void {
    const entry = this.entries.get(nsId);
    if (!entry) return;
    if (entry.version !== from) {
      this.entries.delete(nsId);
      return;
    }
    change(entry);
    entry.version = to;
    this.evict();
  }

  drop(nsId: string): void {
    this.entries.delete(nsId);
  }

  stats(): CacheStats {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.bytes;
    return { ...this.counters, bytes, namespaces: this.entries.size };
  }

  private evict(): void {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.bytes;
    for (const [key, entry] of this.entries) {
      if (bytes <= this.maxBytes) return;
      this.entries.delete(key);
      bytes -= entry.bytes;
      this.counters.evictions += 1;
    }
  }
}

export type { NamespaceVectors };
