// Flattens memory metadata into (path, kind, value) rows for the memory_fields
// index, and picks the condition of a filter that the index can drive.
import type { FieldCondition, MetadataFilter } from '@elixirchain/proto/memory';
import { isScalar, rangeBounds, type Scalar } from '../metadata-filter.js';
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
