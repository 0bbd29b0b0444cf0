// In-memory copies of a namespace's vectors (unit-normalised, int8, one
// contiguous matrix scored by a SIMD kernel) and metadata columns, so a search
// filters and ranks without SQL, then reads from SQLite only the float32
// vectors of the few rows its error bound cannot settle and its k winners.
// SQLite stays the source of truth: entries are filled from it, kept current by
// the store's own writes after they commit, bounded by bytes, and dropped whole
// when another connection writes the file (PRAGMA data_version).
import type { MetadataFilter } from '@elixirchain/proto/memory';
import { dotProductKernel, WASM_PAGE_BYTES, type DotProductKernel, type WasmMemory } from './dot-product-wasm.js';
import { FieldColumn, selectSlots, type SlotSelection } from './metadata-index.js';

export interface Scored {
  rowid: number;
  score: number;
}

/** A bounded min-heap keeping the k best (highest score; lower rowid on ties). */
class TopK {
  private readonly scores: Float64Array;
  private readonly rowids: Float64Array;
  private size = 0;
  /** The score a candidate must reach to enter (-Infinity until full). */
  floor = -Infinity;

  constructor(private readonly k: number) {
    this.scores = new Float64Array(k);
    this.rowids = new Float64Array(k);
  }

  private worse(i: number, j: number): boolean {
    const a = this.scores[i];
    const b = this.scores[j];
    return a < b || (a === b && this.rowids[i] > this.rowids[j]);
  }

  private swap(i: number, j: number): void {
    const s = this.scores[i];
    this.scores[i] = this.scores[j];
    this.scores[j] = s;
    const r = this.rowids[i];
    this.rowids[i] = this.rowids[j];
    this.rowids[j] = r;
  }

  offer(rowid: number, score: number): void {
    if (this.size < this.k) {
      let i = this.size++;
      this.scores[i] = score;
      this.rowids[i] = rowid;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(i, parent)) break;
        this.swap(i, parent);
        i = parent;
      }
      if (this.size === this.k) this.floor = this.scores[0];
      return;
    }
    const minScore = this.scores[0];
    if (score < minScore || (score === minScore && rowid > this.rowids[0])) return;
    this.scores[0] = score;
    this.rowids[0] = rowid;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.size && this.worse(l, m)) m = l;
      if (r < this.size && this.worse(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    this.floor = this.scores[0];
  }

  /** Best first. */
  result(): Scored[] {
    const out: Scored[] = [];
    for (let i = 0; i < this.size; i++) out.push({ rowid: this.rowids[i], score: this.scores[i] });
    return out.sort((a, b) => b.score - a.score || a.rowid - b.rowid);
  }
}

/** Rows scored per kernel call (the scratch blocks hold this many results and slots, plus one group of PAD). */
const BLOCK = 4096;
const PAD = 8;
/** Added to every error bound: covers float rounding in the bound and score arithmetic (scores are in [-1, 1]). */
const ROUNDING = 1e-6;

/** Exact vectors (as stored) of rowids, in the same order; undefined for a rowid that has none. */
export type ExactVectors = (rowids: number[]) => Array<Float32Array | undefined>;

/**
 * A namespace's vectors, unit-normalised and quantised to int8 (a scale per
 * row), as one row-major matrix with a slot per memory (a delete moves the
 * last row into the hole), plus in-memory metadata columns for the fields
 * filters have used. 100k × 384 take 38 MB instead of 154 MB as float32.
 *
 * Search is exact. For each row the kernel gives the quantised dot product
 * against an int16 quantisation of the query; with the row's and the query's
 * quantisation error e_r, e_q (Euclidean norms, measured when quantising) the
 * true cosine lies within a ± (e_r + e_q·(1 + e_r)) of that estimate
 * (Cauchy–Schwarz). The rows whose upper bound reaches the k-th best lower
 * bound are re-scored from their exact float32 vectors (read from SQLite),
 * best upper bound first, until no remaining upper bound can beat the k-th
 * exact score. On the bench data that is ~15–40 rows per search.
 *
 * The matrix lives in a WebAssembly memory so the SIMD kernel scores it in
 * place: [query | results | slots | matrix...]. Growing the memory extends it
 * in place; typed-array views are re-made afterwards.
 */
export class NamespaceVectors {
  private readonly memory: WasmMemory;
  private readonly kernel: DotProductKernel;
  /** Bytes per row: dims rounded up to 16, zero-padded. */
  private readonly stride: number;
  private readonly resultsAt: number;
  private readonly slotsAt: number;
  private readonly matrixAt: number;
  /** Slots the matrix has room for (a multiple of PAD: the kernel reads rows in groups of PAD). */
  private capacity: number;
  private data!: Int8Array;
  /** Per slot: the int8 scale and the quantisation error (Euclidean norm) of the normalised vector. */
  private scale: Float32Array;
  private error: Float32Array;
  private rowids: number[] = [];
  /** rowid -> slot + 1 (0: absent); rowids are dense integers, so a typed array beats a Map here. */
  private slotOf = new Int32Array(1024);
  /** In-memory metadata columns by field path, kept in step with the slots. */
  private readonly columns = new Map<string, FieldColumn>();
  /** True once every row of the namespace has been loaded. */
  complete = false;
  /** True once a write could not be applied (the memory could not grow): never to be searched. */
  unusable = false;
  /** Searches answered, and rows they re-scored exactly (for metrics and the bench). */
  searches = 0;
  rescored = 0;

  constructor(
    readonly dims: number,
    capacity = 1024,
  ) {
    this.stride = Math.ceil(dims / 16) * 16;
    this.resultsAt = this.stride * 2;
    this.slotsAt = this.resultsAt + (BLOCK + PAD) * 4;
    this.matrixAt = this.slotsAt + (BLOCK + PAD) * 4;
    this.capacity = Math.ceil(Math.max(PAD, capacity) / PAD) * PAD;
    ({ memory: this.memory, kernel: this.kernel } = dotProductKernel(this.matrixAt + this.capacity * this.stride));
    this.scale = new Float32Array(this.capacity);
    this.error = new Float32Array(this.capacity);
    this.views();
  }

  private views(): void {
    this.data = new Int8Array(this.memory.buffer, this.matrixAt, this.capacity * this.stride);
  }

  /** Bytes a namespace of rows vectors of dims takes (for the cache budget). */
  static bytesFor(rows: number, dims: number): number {
    return rows * (Math.ceil(dims / 16) * 16 + 8 + 4 + 8 + 8);
  }

  get size(): number {
    return this.rowids.length;
  }

  get bytes(): number {
    let n = this.memory.buffer.byteLength + this.scale.byteLength * 2 + this.slotOf.byteLength + this.rowids.length * 8;
    for (const c of this.columns.values()) n += c.bytes;
    return n;
  }

  private slot(rowid: number): number | undefined {
    const s = rowid < this.slotOf.length ? this.slotOf[rowid] : 0;
    return s === 0 ? undefined : s - 1;
  }

  private setSlot(rowid: number, slot: number | undefined): void {
    if (rowid >= this.slotOf.length) {
      const grown = new Int32Array(Math.max(this.slotOf.length * 2, rowid + 1024));
      grown.set(this.slotOf);
      this.slotOf = grown;
    }
    this.slotOf[rowid] = slot === undefined ? 0 : slot + 1;
  }

  /** The slot of rowid, appending an empty one when it has none; -1 when the matrix cannot grow. */
  private slotFor(rowid: number): number {
    const existing = this.slot(rowid);
    if (existing !== undefined) return existing;
    const slot = this.rowids.length;
    if (slot + 1 > this.capacity) {
      const capacity = Math.ceil(Math.max(this.capacity * 2, slot + 1) / PAD) * PAD;
      const needed = Math.ceil((this.matrixAt + capacity * this.stride) / WASM_PAGE_BYTES);
      try {
        this.memory.grow(needed - this.memory.buffer.byteLength / WASM_PAGE_BYTES);
      } catch {
        // Out of (address) space: this copy can no longer follow the table; the cache drops it.
        this.unusable = true;
        return -1;
      }
      for (const name of ['scale', 'error'] as const) {
        const grown = new Float32Array(capacity);
        grown.set(this[name]);
        this[name] = grown;
      }
      this.capacity = capacity;
      this.views();
    }
    this.rowids.push(rowid);
    this.setSlot(rowid, slot);
    for (const c of this.columns.values()) c.reserve(slot + 1);
    return slot;
  }

  /** Stores vector, normalised and quantised, at slot. */
  private write(slot: number, vector: Float32Array): void {
    const dims = this.dims;
    let norm = 0;
    for (let i = 0; i < dims; i++) norm += vector[i] * vector[i];
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    let max = 0;
    for (let i = 0; i < dims; i++) max = Math.max(max, Math.abs(vector[i] * inv));
    const scale = Math.fround(max / 127);
    const base = slot * this.stride;
    let error = 0;
    for (let i = 0; i < dims; i++) {
      const x = vector[i] * inv;
      const q = scale > 0 ? Math.max(-127, Math.min(127, Math.round(x / scale))) : 0;
      this.data[base + i] = q;
      error += (x - q * scale) ** 2;
    }
    this.scale[slot] = scale;
    // Rounded up to float32 so the stored bound never understates.
    this.error[slot] = Math.fround(Math.sqrt(error) * (1 + 1e-6));
  }

  /** Inserts or replaces rowid's vector as read from SQLite while loading. */
  load(rowid: number, vector: Float32Array): void {
    // Columns are only built once loading is complete; a row without its metadata would leave them wrong.
    this.columns.clear();
    const slot = this.slotFor(rowid);
    if (slot >= 0) this.write(slot, vector);
  }

  /** Inserts or replaces a memory after a write of it committed. */
  set(rowid: number, vector: Float32Array, metadata: Record<string, unknown> | undefined): void {
    const slot = this.slotFor(rowid);
    if (slot < 0) return;
    this.write(slot, vector);
    for (const [path, c] of this.columns) {
      c.codes[slot] = c.encodeMetadata(metadata);
      // Updates left too many dead values behind: drop it, the next filter on it reloads it.
      if (c.distinct > 2 * this.size + 1024) this.columns.delete(path);
    }
  }

  delete(rowid: number): void {
    const slot = this.slot(rowid);
    if (slot === undefined) return;
    const last = this.rowids.length - 1;
    if (slot !== last) {
      // Move the last vector (and its column codes) into the hole.
      this.data.copyWithin(slot * this.stride, last * this.stride, (last + 1) * this.stride);
      this.scale[slot] = this.scale[last];
      this.error[slot] = this.error[last];
      const moved = this.rowids[last];
      this.rowids[slot] = moved;
      this.setSlot(moved, slot);
      for (const c of this.columns.values()) c.codes[slot] = c.codes[last];
    }
    this.rowids.pop();
    this.setSlot(rowid, undefined);
  }

  /** How many columns are complete. */
  get completeColumns(): number {
    let n = 0;
    for (const c of this.columns.values()) if (c.complete) n += 1;
    return n;
  }

  /** The column of a field path, complete or loading; undefined when there is none yet. */
  column(path: string): FieldColumn | undefined {
    return this.columns.get(path);
  }

  /** Starts an (empty, incomplete) column for path; fill it with setField, then mark it complete. */
  addColumn(path: string): FieldColumn {
    const column = new FieldColumn(path, this.capacity);
    this.columns.set(path, column);
    return column;
  }

  dropColumn(column: FieldColumn): void {
    if (this.columns.get(column.path) === column) this.columns.delete(column.path);
  }

  /** Records rowid's value of column's field as read from SQLite (present: the path resolves). */
  setField(column: FieldColumn, rowid: number, value: unknown, present: boolean): void {
    const slot = this.slot(rowid);
    if (slot !== undefined) column.codes[slot] = column.encode(value, present);
  }

  /** The slots of the filter's matches; every field it reads must have a complete column. */
  filterSlots(filter: MetadataFilter): SlotSelection {
    return selectSlots(filter, this.size, (path) => this.columns.get(path) as FieldColumn);
  }

  /** The slots of rowids (rowids without a vector are skipped). */
  slotsOf(rowids: Iterable<number>): SlotSelection {
    const out: number[] = [];
    for (const rowid of rowids) {
      const slot = this.slot(rowid);
      if (slot !== undefined) out.push(slot);
    }
    return { slots: Int32Array.from(out) };
  }

  /**
   * The k best by cosine similarity among the selected slots (all rows when
   * undefined), at or above minScore: exact, see the class comment. Selected
   * slots are gathered straight into the kernel's slot block, BLOCK at a time.
   */
  topK(query: Float32Array, k: number, selection: SlotSelection | undefined, minScore: number | undefined, exact: ExactVectors): Scored[] {
    const { dims, stride } = this;
    const buffer = this.memory.buffer;
    // The query, normalised (float64) and quantised to int16 so the kernel's i32 sums cannot overflow.
    let norm = 0;
    for (let i = 0; i < dims; i++) norm += query[i] * query[i];
    const unit = new Float64Array(dims);
    let max = 0;
    for (let i = 0; i < dims; i++) {
      unit[i] = query[i] / Math.sqrt(norm);
      max = Math.max(max, Math.abs(unit[i]));
    }
    const qMax = Math.min(32767, Math.floor((2 ** 31 - 1) / (127 * stride)));
    const qScale = max / qMax;
    const q16 = new Int16Array(buffer, 0, stride);
    let qError = 0;
    for (let i = 0; i < dims; i++) {
      q16[i] = qScale > 0 ? Math.round(unit[i] / qScale) : 0;
      qError += (unit[i] - q16[i] * qScale) ** 2;
    }
    qError = Math.sqrt(qError);

    const results = new Float32Array(buffer, this.resultsAt, BLOCK + PAD);
    const block = new Int32Array(buffer, this.slotsAt, BLOCK + PAD);
    const floor = minScore ?? -Infinity;
    const { scale, error } = this;
    // The k best lower bounds seen (its floor: a score the k-th best surely reaches), and the rows that may beat it.
    const lower = new TopK(k);
    const maySlots: number[] = [];
    const mayUpper: number[] = [];
    const consider = (slot: number, dot: number) => {
      const estimate = dot * qScale * scale[slot];
      const e = error[slot];
      const bound = e + qError * (1 + e) + ROUNDING;
      const upper = estimate + bound;
      if (upper < floor || upper < lower.floor) return;
      lower.offer(slot, estimate - bound);
      maySlots.push(slot);
      mayUpper.push(upper);
    };
    const size = this.size;
    if (selection === undefined) {
      for (let from = 0; from < size; from += BLOCK) {
        const count = Math.min(BLOCK, size - from);
        this.kernel.scoreRows(0, this.matrixAt + from * stride, count, stride, this.resultsAt);
        for (let i = 0; i < count; i++) consider(from + i, results[i]);
      }
    } else {
      /** Scores the first count slots of the block; returns 0, the block's new fill. */
      const scoreBlock = (count: number): number => {
        block.fill(0, count, count + PAD); // the kernel reads slots in groups of PAD
        this.kernel.scoreSlots(0, this.matrixAt, this.slotsAt, count, stride, this.resultsAt);
        for (let i = 0; i < count; i++) consider(block[i], results[i]);
        return 0;
      };
      // The gathering loops are written out (no per-slot call): they visit every slot.
      let n = 0;
      if ('slots' in selection) {
        for (const slot of selection.slots) {
          block[n++] = slot;
          if (n === BLOCK) n = scoreBlock(n);
        }
      } else if ('mask' in selection) {
        const mask = selection.mask;
        for (let s = 0; s < size; s++) {
          if (mask[s] === 0) continue;
          block[n++] = s;
          if (n === BLOCK) n = scoreBlock(n);
        }
      } else if (selection.codes.length === 1) {
        const [codes] = selection.codes;
        const [table] = selection.tables;
        for (let s = 0; s < size; s++) {
          if (table[codes[s]] === 0) continue;
          block[n++] = s;
          if (n === BLOCK) n = scoreBlock(n);
        }
      } else {
        const { codes, tables } = selection;
        next: for (let s = 0; s < size; s++) {
          for (let c = 0; c < codes.length; c++) if (tables[c][codes[c][s]] === 0) continue next;
          block[n++] = s;
          if (n === BLOCK) n = scoreBlock(n);
        }
      }
      if (n > 0) scoreBlock(n);
    }
    this.searches += 1;
    return this.rerank(unit, k, floor, lower.floor, maySlots, mayUpper, exact);
  }

  /** Exact scores for the rows that may make the top k, best upper bound first, until none left can. */
  private rerank(
    unit: Float64Array,
    k: number,
    floor: number,
    surely: number,
    maySlots: number[],
    mayUpper: number[],
    exact: ExactVectors,
  ): Scored[] {
    const order: number[] = [];
    for (let i = 0; i < maySlots.length; i++) if (mayUpper[i] >= surely) order.push(i);
    order.sort((a, b) => mayUpper[b] - mayUpper[a]);
    const best = new TopK(k);
    const dims = this.dims;
    for (let at = 0; at < order.length; ) {
      // Rows whose upper bound is below the k-th exact score so far cannot enter.
      if (mayUpper[order[at]] < best.floor) break;
      const batch = order.slice(at, at + Math.max(16, k)).filter((i) => mayUpper[i] >= best.floor);
      at += Math.max(16, k);
      const rowids = batch.map((i) => this.rowids[maySlots[i]]);
      this.rescored += rowids.length;
      const vectors = exact(rowids);
      vectors.forEach((v, j) => {
        if (!v) return;
        let dot = 0;
        let norm = 0;
        for (let d = 0; d < dims; d++) {
          dot += v[d] * unit[d];
          norm += v[d] * v[d];
        }
        const score = norm > 0 ? dot / Math.sqrt(norm) : 0;
        if (score >= floor) best.offer(rowids[j], score);
      });
    }
    return best.result();
  }
}

export interface VectorCacheStats {
  namespaces: number;
  /** Complete in-memory metadata columns, over all namespaces. */
  columns: number;
  /** Searches of the namespaces held now, and rows they re-scored from their exact vectors. */
  searches: number;
  rescored: number;
  bytes: number;
  maxBytes: number;
  loads: number;
  drops: number;
}

/** Per-namespace vector copies, least recently searched dropped first. */
export class VectorCache {
  private readonly entries = new Map<number, NamespaceVectors>();
  private loads = 0;
  private drops = 0;

  constructor(readonly maxBytes: number) {}

  get(nsId: number): NamespaceVectors | undefined {
    const entry = this.entries.get(nsId);
    if (entry?.unusable) {
      this.drop(nsId);
      return undefined;
    }
    if (entry) {
      this.entries.delete(nsId);
      this.entries.set(nsId, entry);
    }
    return entry;
  }

  /** Starts an (empty, incomplete) entry if its expected size fits the budget. */
  begin(nsId: number, dims: number, expectedRows: number): NamespaceVectors | undefined {
    const expectedBytes = NamespaceVectors.bytesFor(expectedRows, dims);
    if (expectedBytes > this.maxBytes) return undefined;
    while (this.bytes() + expectedBytes > this.maxBytes && this.entries.size > 0) {
      this.entries.delete(this.entries.keys().next().value as number);
      this.drops += 1;
    }
    let entry: NamespaceVectors;
    try {
      entry = new NamespaceVectors(dims, expectedRows + 64);
    } catch {
      return undefined; // no WebAssembly memory to be had: search in SQL
    }
    this.entries.set(nsId, entry);
    this.loads += 1;
    return entry;
  }

  /** The entry for nsId if one exists (complete or loading), without touching recency. */
  peek(nsId: number): NamespaceVectors | undefined {
    return this.entries.get(nsId);
  }

  /** Drops least recently searched entries (never `keep`) until within budget. */
  enforce(keep?: number): void {
    for (const nsId of [...this.entries.keys()]) {
      if (this.bytes() <= this.maxBytes) return;
      if (nsId === keep) continue;
      this.drop(nsId);
    }
  }

  drop(nsId: number): void {
    if (this.entries.delete(nsId)) this.drops += 1;
  }

  clear(): void {
    this.drops += this.entries.size;
    this.entries.clear();
  }

  bytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.bytes;
    return n;
  }

  stats(): VectorCacheStats {
    let columns = 0;
    let searches = 0;
    let rescored = 0;
    for (const e of this.entries.values()) {
      columns += e.completeColumns;
      searches += e.searches;
      rescored += e.rescored;
    }
    return { namespaces: this.entries.size, columns, searches, rescored, bytes: this.bytes(), maxBytes: this.maxBytes, loads: this.loads, drops: this.drops };
  }
}
