// Two metadata indexes:
// - memory_fields (in SQLite): flattens memory metadata into (path, kind,
//   value) rows, and picks the condition of a filter that the index can drive;
// - FieldColumn (in memory, next to a namespace's vector copies): one field's
//   value per vector slot, dictionary-encoded, so a filter is evaluated once per
//   distinct value and then by an integer lookup per slot.
import type { FieldCondition, MetadataFilter } from '@elixirchain/proto/memory';
import { conditionPredicate, fieldPath, fieldValue, isScalar, MISSING_FIELD, rangeBounds, type Scalar } from '../metadata-filter.js';
import type { SqlParam } from './metadata-filter-sql.js';

export type FieldKind = 's' | 'n' | 't' | 'f' | 'z';

export interface FieldRow {
  path: string;
  kind: FieldKind;
  value: SqlParam;
}

const SEGMENT = /^[A-Za-z0-9_-]{1,128}$/;

export function kindOf(value: Scalar): FieldKind {
  if (value === null) return 'z';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return typeof value === 'number' ? 'n' : 's';
}

function indexValue(value: Scalar): SqlParam {
  return typeof value === 'string' || typeof value === 'number' ? value : null;
}

/** Scalar leaves reachable by a filter path (arrays and unaddressable keys are skipped). */
export function flattenMetadata(metadata: Record<string, unknown> | undefined): FieldRow[] {
  const rows: FieldRow[] = [];
  const walk = (obj: Record<string, unknown>, prefix: string, depth: number) => {
    if (depth > 16) return;
    for (const [key, value] of Object.entries(obj)) {
      if (!SEGMENT.test(key)) continue;
      const p = prefix ? `${prefix}.${key}` : key;
      if (isScalar(value)) rows.push({ path: p, kind: kindOf(value), value: indexValue(value) });
      else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        walk(value as Record<string, unknown>, p, depth + 1);
      }
    }
  };
  if (metadata) walk(metadata, '', 1);
  return rows;
}

export interface IndexProbe {
  /** SQL over memory_fields aliased f, selecting candidates (after ns_id = ?). */
  sql: string;
  params: SqlParam[];
  /** Lower is more selective; used to choose among conditions. */
  rank: number;
}

/** An index probe for one top-level `all` condition, or undefined when none can drive. */
export function chooseIndexProbe(filter: MetadataFilter | undefined): IndexProbe | undefined {
  let best: IndexProbe | undefined;
  for (const c of filter?.all ?? []) {
    const probe = probeFor(c);
    if (probe && (!best || probe.rank < best.rank)) best = probe;
  }
  return best;
}

function probeFor(c: FieldCondition): IndexProbe | undefined {
  const cond = c.condition;
  if (!cond) return undefined;
  switch (cond.$case) {
    case 'eq': {
      const v = (cond.eq ?? null) as Scalar;
      const kind = kindOf(v);
      if (kind === 's' || kind === 'n') {
        return { sql: 'f.path = ? AND f.kind = ? AND f.value = ?', params: [c.field, kind, v as SqlParam], rank: 0 };
      }
      return { sql: 'f.path = ? AND f.kind = ?', params: [c.field, kind], rank: 2 };
    }
    case 'in': {
      const values = (cond.in ?? []).map((v) => (v ?? null) as Scalar);
      const kinds = new Set(values.map(kindOf));
      if (values.length === 0 || kinds.size !== 1) return undefined;
      const kind = [...kinds][0];
      if (kind !== 's' && kind !== 'n') return undefined;
      return {
        sql: `f.path = ? AND f.kind = ? AND f.value IN (${values.map(() => '?').join(', ')})`,
        params: [c.field, kind, ...(values as SqlParam[])],
        rank: 1,
      };
    }
    case 'range': {
      const bounds = rangeBounds(cond.range);
      const kind = typeof bounds[0][1] === 'number' ? 'n' : 's';
      const ops = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
      return {
        sql: `f.path = ? AND f.kind = ? AND ${bounds.map(([op]) => `f.value ${ops[op]} ?`).join(' AND ')}`,
        params: [c.field, kind, ...bounds.map(([, b]) => b)],
        rank: 3,
      };
    }
    default:
      return undefined;
  }
}

/** Code of a slot whose field is missing. */
const ABSENT = 0;
/** Code of a slot whose field holds an object or an array. */
const NON_SCALAR = 1;

/**
 * One metadata field of every vector slot of a namespace, as codes into a
 * dictionary of its distinct scalar values (Map keys compare like the filter
 * semantics: by JSON type and value, 1 !== true !== "1"). Slots are kept in step
 * with the vectors by NamespaceVectors. Values dropped by updates stay in the
 * dictionary; a column that has gathered many of them is dropped and reloaded.
 */
export class FieldColumn {
  readonly segments: string[];
  codes: Int32Array;
  private readonly values: Scalar[] = [null, null];
  private readonly dict = new Map<Scalar, number>();
  /** True once every slot has been filled from SQLite. */
  complete = false;

  constructor(
    readonly path: string,
    capacity: number,
  ) {
    this.segments = fieldPath(path, 'field');
    this.codes = new Int32Array(Math.max(16, capacity));
  }

  get distinct(): number {
    return this.values.length - 2;
  }

  get bytes(): number {
    // Map entries and boxed values cost roughly 64 bytes each in V8.
    return this.codes.byteLength + this.values.length * 64;
  }

  /** Code of one value as read from SQLite or from metadata (present: the path resolved). */
  encode(value: unknown, present: boolean): number {
    if (!present) return ABSENT;
    if (!isScalar(value)) return NON_SCALAR;
    let code = this.dict.get(value);
    if (code === undefined) {
      code = this.values.length;
      this.values.push(value);
      this.dict.set(value, code);
    }
    return code;
  }

  /** Code of this field in a memory's metadata. */
  encodeMetadata(metadata: Record<string, unknown> | undefined): number {
    const value = fieldValue(metadata ?? {}, this.segments);
    return value === MISSING_FIELD ? ABSENT : this.encode(value, true);
  }

  /** Grows the per-slot codes to hold at least capacity slots. */
  reserve(capacity: number): void {
    if (capacity <= this.codes.length) return;
    const grown = new Int32Array(Math.max(this.codes.length * 2, capacity));
    grown.set(this.codes);
    this.codes = grown;
  }

  /** 1 for each code whose value satisfies c (c is on this column's field). */
  matchTable(c: FieldCondition): Uint8Array {
    const table = new Uint8Array(this.values.length);
    const matches = conditionPredicate(c);
    table[ABSENT] = matches(undefined, false) ? 1 : 0;
    table[NON_SCALAR] = matches({}, true) ? 1 : 0;
    const cond = c.condition;
    const lookup = (v: unknown) => this.dict.get((v ?? null) as Scalar);
    switch (cond?.$case) {
      // At most the listed values can (not) match: look them up instead of testing every distinct value.
      case 'eq': {
        const code = lookup(cond.eq);
        if (code !== undefined) table[code] = 1;
        return table;
      }
      case 'in':
        for (const v of cond.in ?? []) {
          const code = lookup(v);
          if (code !== undefined) table[code] = 1;
        }
        return table;
      case 'ne': {
        table.fill(1, 2);
        const code = lookup(cond.ne);
        if (code !== undefined) table[code] = 0;
        return table;
      }
      default:
        for (let code = 2; code < this.values.length; code++) table[code] = matches(this.values[code], true) ? 1 : 0;
        return table;
    }
  }
}

/** Every field path a filter reads. */
export function filterFields(filter: MetadataFilter | undefined, into = new Set<string>()): Set<string> {
  for (const c of filter?.all ?? []) into.add(c.field);
  for (const sub of filter?.any ?? []) filterFields(sub, into);
  return into;
}

/**
 * Which slots a filter selects: slots listed explicitly; or, for slots
 * 0..size-1, those whose code in every one of `codes` has a 1 in the matching
 * table (a filter of `all` conditions only); or those with a 1 in mask.
 */
export type SlotSelection =
  | { slots: Int32Array }
  | { codes: Int32Array[]; tables: Uint8Array[] }
  | { mask: Uint8Array };

/** The selection of a validated filter, given a complete column for every field it reads. */
export function selectSlots(filter: MetadataFilter, size: number, column: (path: string) => FieldColumn): SlotSelection {
  if ((filter.any ?? []).length === 0) {
    const all = filter.all ?? [];
    return { codes: all.map((c) => column(c.field).codes), tables: all.map((c) => column(c.field).matchTable(c)) };
  }
  return { mask: filterMask(filter, size, column) };
}

function filterMask(filter: MetadataFilter, size: number, column: (path: string) => FieldColumn): Uint8Array {
  const mask = new Uint8Array(size).fill(1);
  for (const c of filter.all ?? []) {
    const col = column(c.field);
    const table = col.matchTable(c);
    const codes = col.codes;
    for (let s = 0; s < size; s++) mask[s] &= table[codes[s]];
  }
  const any = filter.any ?? [];
  if (any.length > 0) {
    const either = new Uint8Array(size);
    for (const sub of any) {
      const m = filterMask(sub, size, column);
      for (let s = 0; s < size; s++) either[s] |= m[s];
    }
    for (let s = 0; s < size; s++) mask[s] &= either[s];
  }
  return mask;
}
