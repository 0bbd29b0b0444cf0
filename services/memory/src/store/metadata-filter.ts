// The semantics of proto MetadataFilter, shared by every backend: validation
// (so all backends reject the same filters) and a reference evaluator (the
// contract suite checks backends against it; backends without a query
// language can use it directly).
//
// Semantics:
// - field is a dotted path of segments [A-Za-z0-9_-]+; a path through a
//   non-object, or to a key that is not there, is "missing".
// - eq/ne/in compare scalars (string, number, boolean, null) by JSON type and
//   value; 1 never equals true or "1". ne also matches a missing field.
// - range bounds are all numbers or all strings; only fields of that type
//   match; strings compare by UTF-8 byte order.
// - exists: true matches a present field (even null), false a missing one.
// - all: every condition holds; any: at least one sub-filter holds (if given).
import type { FieldCondition, MetadataFilter } from '@elixirchain/proto/memory';
import { invalidArgument, StoreErrorReason } from './store-errors.js';

export const MAX_FILTER_DEPTH = 8;
export const MAX_FILTER_CONDITIONS = 64;
export const MAX_IN_VALUES = 256;
const SEGMENT = /^[A-Za-z0-9_-]{1,128}$/;

export type Scalar = string | number | boolean | null;

export function isScalar(value: unknown): value is Scalar {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/** Splits and validates a dotted field path. */
export function fieldPath(field: string, where: string): string[] {
  const segments = field.split('.');
  if (field === '' || segments.length > 16 || !segments.every((s) => SEGMENT.test(s))) {
    throw invalidArgument(
      where,
      `field path "${field.slice(0, 200)}" must be dot-separated segments of [A-Za-z0-9_-]`,
      StoreErrorReason.INVALID_FILTER,
    );
  }
  return segments;
}

/** Throws INVALID_ARGUMENT (INVALID_FILTER) naming the offending field of the filter. */
export function validateMetadataFilter(filter: MetadataFilter | undefined, where = 'filter'): void {
  let conditions = 0;
  const visit = (f: MetadataFilter, path: string, depth: number): void => {
    if (depth > MAX_FILTER_DEPTH) {
      throw invalidArgument(path, `filters nest at most ${MAX_FILTER_DEPTH} deep`, StoreErrorReason.INVALID_FILTER);
    }
    (f.all ?? []).forEach((c, i) => {
      conditions += 1;
      if (conditions > MAX_FILTER_CONDITIONS) {
        throw invalidArgument(path, `at most ${MAX_FILTER_CONDITIONS} conditions`, StoreErrorReason.INVALID_FILTER);
      }
      validateCondition(c, `${path}.all[${i}]`);
    });
    (f.any ?? []).forEach((sub, i) => visit(sub, `${path}.any[${i}]`, depth + 1));
  };
  if (filter) visit(filter, where, 1);
}

function validateCondition(c: FieldCondition, where: string): void {
  fieldPath(c.field, `${where}.field`);
  const cond = c.condition;
  const bad = (what: string, description: string) =>
    invalidArgument(`${where}.${what}`, description, StoreErrorReason.INVALID_FILTER);
  if (!cond) throw bad('condition', 'one of eq, ne, in, range, exists is required');
  switch (cond.$case) {
    case 'eq':
      if (!isScalar(cond.eq ?? null)) throw bad('eq', 'must be a string, number, boolean or null');
      return;
    case 'ne':
      if (!isScalar(cond.ne ?? null)) throw bad('ne', 'must be a string, number, boolean or null');
      return;
    case 'in': {
      const values = cond.in ?? [];
      if (values.length > MAX_IN_VALUES) throw bad('in', `at most ${MAX_IN_VALUES} values`);
      values.forEach((v, i) => {
        if (!isScalar(v ?? null)) throw bad(`in[${i}]`, 'must be a string, number, boolean or null');
      });
      return;
    }
    case 'range': {
      const bounds = rangeBounds(cond.range);
      if (bounds.length === 0) throw bad('range', 'needs at least one of gt, gte, lt, lte');
      const kinds = new Set(bounds.map(([, v]) => typeof v));
      if (kinds.size !== 1 || !(kinds.has('number') || kinds.has('string'))) {
        throw bad('range', 'bounds must all be numbers or all be strings');
      }
      for (const [, v] of bounds) if (typeof v === 'number' && !Number.isFinite(v)) throw bad('range', 'bounds must be finite');
      return;
    }
    case 'exists':
      return;
  }
}

export type RangeOp = 'gt' | 'gte' | 'lt' | 'lte';

export function rangeBounds(range: { gt?: unknown; gte?: unknown; lt?: unknown; lte?: unknown }): Array<[RangeOp, number | string]> {
  const out: Array<[RangeOp, number | string]> = [];
  for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
    const v = range[op];
    if (v !== undefined && v !== null) out.push([op, v as number | string]);
  }
  return out;
}

/** What fieldValue returns for a path that does not resolve. */
export const MISSING_FIELD = Symbol('missing');
const MISSING = MISSING_FIELD;

/** The value at a field path of metadata, or MISSING_FIELD. */
export function fieldValue(metadata: unknown, segments: string[]): unknown {
  let current: unknown = metadata;
  for (const s of segments) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return MISSING;
    if (!Object.prototype.hasOwnProperty.call(current, s)) return MISSING;
    current = (current as Record<string, unknown>)[s];
  }
  return current === undefined ? MISSING : current;
}

function scalarEquals(a: unknown, b: Scalar): boolean {
  if (a === null || b === null) return a === b;
  return typeof a === typeof b && a === b;
}

function compare(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return compareUtf8(String(a), String(b));
}

/**
 * Compares strings in UTF-8 byte order (= code point order) without encoding
 * them: at the first differing UTF-16 unit, surrogates (supplementary code
 * points) are moved above U+E000–U+FFFF, where code point order puts them.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Reference evaluation of a (validated) filter against one memory's metadata. */
export function matchesMetadataFilter(metadata: Record<string, unknown> | undefined, filter: MetadataFilter | undefined): boolean {
  if (!filter) return true;
  const meta = metadata ?? {};
  for (const c of filter.all ?? []) {
    if (!matchesCondition(meta, c)) return false;
  }
  const any = filter.any ?? [];
  if (any.length > 0 && !any.some((sub) => matchesMetadataFilter(meta, sub))) return false;
  return true;
}

function matchesCondition(meta: Record<string, unknown>, c: FieldCondition): boolean {
  const value = fieldValue(meta, c.field.split('.'));
  return value === MISSING ? conditionMatches(c, undefined, false) : conditionMatches(c, value, true);
}

/**
 * Whether condition c holds for one field value (present: the path resolves;
 * value is then a scalar, an object or an array).
 */
export function conditionMatches(c: FieldCondition, value: unknown, present: boolean): boolean {
  return conditionPredicate(c)(value, present);
}

/**
 * conditionMatches with the condition prepared once, for backends that
 * evaluate one condition against many values (SqliteStore's in-memory columns
 * test each distinct value of a field).
 */
export function conditionPredicate(c: FieldCondition): (value: unknown, present: boolean) => boolean {
  const cond = c.condition;
  if (!cond) return () => false;
  switch (cond.$case) {
    case 'eq': {
      const x = (cond.eq ?? null) as Scalar;
      return (value, present) => present && scalarEquals(value, x);
    }
    case 'ne': {
      const x = (cond.ne ?? null) as Scalar;
      return (value, present) => !present || !scalarEquals(value, x);
    }
    case 'in': {
      const xs = (cond.in ?? []).map((v) => (v ?? null) as Scalar);
      return (value, present) => present && xs.some((x) => scalarEquals(value, x));
    }
    case 'exists': {
      const want = cond.exists;
      return (_value, present) => (want ? present : !present);
    }
    case 'range': {
      const bounds = rangeBounds(cond.range);
      if (bounds.length === 0) return () => false;
      const kind = typeof bounds[0][1];
      const ops = bounds.map(([op]) => op);
      const limits = bounds.map(([, bound]) => bound);
      return (value, present) => {
        if (!present || typeof value !== kind) return false;
        for (let i = 0; i < ops.length; i++) {
          const d = compare(value as number | string, limits[i]);
          const op = ops[i];
          if (op === 'gt' ? d <= 0 : op === 'gte' ? d < 0 : op === 'lt' ? d >= 0 : d > 0) return false;
        }
        return true;
      };
    }
  }
}
