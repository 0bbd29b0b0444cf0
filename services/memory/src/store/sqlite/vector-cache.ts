// Unit-normalised copies of a namespace's vectors in one contiguous float32
// matrix scored by a SIMD kernel, plus in-memory metadata columns, so a search
// filters and ranks without SQL and fetches only its k winners from SQLite.
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

/** Rows scored per kernel call (the scratch blocks hold this many scores and slots). */
const BLOCK = 4096;

/**
 * A namespace's unit-normalised vectors as one row-major float32 matrix (a
 * slot per memory; a delete moves the last row into the hole), plus in-memory
 * metadata columns for the fields that filters have used.
 *
 * The matrix lives in a WebAssembly memory so the SIMD kernel scores it in
 * place (no copy): [query | BLOCK scores | BLOCK slots | matrix...]. Growing
 * the memory extends it in place; typed-array views are re-made afterwards.
 */
export class NamespaceVectors {
  private readonly memory: WasmMemory;
  private readonly kernel: DotProductKernel;
  private readonly scoresAt: number;
  private readonly slotsAt: number;
  private readonly matrixAt: number;
  private capacity: number;
  private data!: Float32Array;
  private rowids: number[] = [];
  /** rowid -> slot + 1 (0: absent); rowids are dense integers, so a typed array beats a Map here. */
  private slotOf = new Int32Array(1024);
  /** In-memory metadata columns by field path, kept in step with the slots. */
  private readonly columns = new Map<string, FieldColumn>();
  /** True once every row of the namespace has been loaded. */
  complete = false;
  /** True once a write could not be applied (the memory could not grow): never to be searched. */
  unusable = false;

  constructor(
    readonly dims: number,
    capacity = 1024,
  ) {
    this.scoresAt = Math.ceil((dims * 4) / 16) * 16;
    this.slotsAt = this.scoresAt + BLOCK * 4;
    this.matrixAt = this.slotsAt + BLOCK * 4;
    this.capacity = Math.max(1, capacity);
    ({ memory: this.memory, kernel: this.kernel } = dotProductKernel(this.matrixAt + this.capacity * dims * 4));
    this.views();
  }

  private views(): void {
    this.data = new Float32Array(this.memory.buffer, this.matrixAt, this.capacity * this.dims);
  }

  get size(): number {
    return this.rowids.length;
  }

  get bytes(): number {
    let n = this.memory.buffer.byteLength + this.slotOf.byteLength + this.rowids.length * 8;
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
      const capacity = Math.max(this.capacity * 2, slot + 1);
      const needed = Math.ceil((this.matrixAt + capacity * this.dims * 4) / WASM_PAGE_BYTES);
      try {
        this.memory.grow(needed - this.memory.buffer.byteLength / WASM_PAGE_BYTES);
      } catch {
        // Out of (address) space: this copy can no longer follow the table; the cache drops it.
        this.unusable = true;
        return -1;
      }
      this.capacity = capacity;
      this.views();
    }
    this.rowids.push(rowid);
    this.setSlot(rowid, slot);
    for (const c of this.columns.values()) c.reserve(slot + 1);
    return slot;
  }

  private write(slot: number, vector: Float32Array): void {
    let norm = 0;
    for (let i = 0; i < this.dims; i++) norm += vector[i] * vector[i];
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    const base = slot * this.dims;
    for (let i = 0; i < this.dims; i++) this.data[base + i] = vector[i] * inv;
  }

  /** Inserts or replaces rowid's vector (stored normalised) as read from SQLite while loading. */
  load(rowid: number, vector: Float32Array): void {
    // Columns are only built once loading is complete; a row without its metadata would leave them wrong.
    this.columns.clear();
    const slot = this.slotFor(rowid);
    if (slot >= 0) this.write(slot, vector);
  }

  /** Inserts or replaces a memory (stored normalised) after a write of it committed. */
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
      this.data.copyWithin(slot * this.dims, last * this.dims, (last + 1) * this.dims);
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
   * undefined), at or above minScore. Selected slots are gathered straight into
   * the kernel's slot block, BLOCK at a time: no per-search list of matches.
   */
  topK(query: Float32Array, k: number, selection: SlotSelection | undefined, minScore: number | undefined): Scored[] {
    const dims = this.dims;
    const buffer = this.memory.buffer;
    const q = new Float32Array(buffer, 0, dims);
    let norm = 0;
    for (let i = 0; i < dims; i++) norm += query[i] * query[i];
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < dims; i++) q[i] = query[i] * inv;
    const scores = new Float32Array(buffer, this.scoresAt, BLOCK);
    const block = new Int32Array(buffer, this.slotsAt, BLOCK);
    const best = new TopK(k);
    const floor = minScore ?? -Infinity;
    const rowids = this.rowids;
    const size = this.size;
    const scoreBlock = (count: number) => {
      this.kernel.scoreSlots(0, this.matrixAt, this.slotsAt, count, dims, this.scoresAt);
      for (let i = 0; i < count; i++) {
        const score = scores[i];
        if (score >= floor && score >= best.floor) best.offer(rowids[block[i]], score);
      }
    };
    if (selection === undefined) {
      for (let from = 0; from < size; from += BLOCK) {
        const count = Math.min(BLOCK, size - from);
        this.kernel.scoreRows(0, this.matrixAt + from * dims * 4, count, dims, this.scoresAt);
        for (let i = 0; i < count; i++) {
          const score = scores[i];
          if (score >= floor && score >= best.floor) best.offer(rowids[from + i], score);
        }
      }
      return best.result();
    }
    let n = 0;
    if ('slots' in selection) {
      for (const slot of selection.slots) {
        block[n++] = slot;
        if (n === BLOCK) {
          scoreBlock(n);
          n = 0;
        }
      }
    } else if ('mask' in selection) {
      const mask = selection.mask;
      for (let s = 0; s < size; s++) {
        if (mask[s] === 0) continue;
        block[n++] = s;
        if (n === BLOCK) {
          scoreBlock(n);
          n = 0;
        }
      }
    } else if (selection.codes.length === 1) {
      const [codes] = selection.codes;
      const [table] = selection.tables;
      for (let s = 0; s < size; s++) {
        if (table[codes[s]] === 0) continue;
        block[n++] = s;
        if (n === BLOCK) {
          scoreBlock(n);
          n = 0;
        }
      }
    } else {
      const { codes, tables } = selection;
      next: for (let s = 0; s < size; s++) {
        for (let c = 0; c < codes.length; c++) if (tables[c][codes[c][s]] === 0) continue next;
        block[n++] = s;
        if (n === BLOCK) {
          scoreBlock(n);
          n = 0;
        }
      }
    }
    if (n > 0) scoreBlock(n);
    return best.result();
  }
}

export interface VectorCacheStats {
  namespaces: number;
  /** Complete in-memory metadata columns, over all namespaces. */
  columns: number;
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
    const expectedBytes = expectedRows * (dims * 4 + 24);
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
    for (const e of this.entries.values()) columns += e.completeColumns;
    return { namespaces: this.entries.size, columns, bytes: this.bytes(), maxBytes: this.maxBytes, loads: this.loads, drops: this.drops };
  }
}
