// Translates a validated MetadataFilter into a SQLite expression over a JSONB
// metadata column, with the semantics defined in ../metadata-filter.ts.
// Field paths are validated to [A-Za-z0-9_-] segments before they are quoted
// into the JSON path, and every value is a bound parameter.
import type { FieldCondition, MetadataFilter } from '@elixirchain/proto/memory';
import { fieldPath, rangeBounds, type Scalar } from '../metadata-filter.js';

export type SqlParam = string | number | null;

export interface SqlFragment {
  sql: string;
  params: SqlParam[];
}

const NUMERIC = `IN ('integer', 'real')`;

export function filterToSql(filter: MetadataFilter | undefined, column: string): SqlFragment {
  const params: SqlParam[] = [];
  const sql = filter ? filterSql(filter, column, params) : '1';
  return { sql, params };
}

function filterSql(filter: MetadataFilter, column: string, params: SqlParam[]): string {
  const parts = (filter.all ?? []).map((c) => conditionSql(c, column, params));
  const any = filter.any ?? [];
  if (any.length > 0) parts.push(`(${any.map((f) => filterSql(f, column, params)).join(' OR ')})`);
  return parts.length === 0 ? '1' : `(${parts.join(' AND ')})`;
}

function eqSql(path: string, column: string, value: Scalar, params: SqlParam[]): string {
  const type = `json_type(${column}, '${path}')`;
  if (value === null) return `${type} = 'null'`;
  if (typeof value === 'boolean') return `${type} = '${value ? 'true' : 'false'}'`;
  params.push(value);
  if (typeof value === 'number') return `(${type} ${NUMERIC} AND json_extract(${column}, '${path}') = ?)`;
  return `(${type} = 'text' AND json_extract(${column}, '${path}') = ?)`;
}

function conditionSql(c: FieldCondition, column: string, params: SqlParam[]): string {
  const path = '$' + fieldPath(c.field, 'field').map((s) => `."${s}"`).join('');
  const cond = c.condition;
  if (!cond) return '0';
  switch (cond.$case) {
    case 'eq':
      return eqSql(path, column, (cond.eq ?? null) as Scalar, params);
    case 'ne':
      return `NOT coalesce(${eqSql(path, column, (cond.ne ?? null) as Scalar, params)}, 0)`;
    case 'in': {
      const values = cond.in ?? [];
      if (values.length === 0) return '0';
      return `(${values.map((v) => `coalesce(${eqSql(path, column, (v ?? null) as Scalar, params)}, 0)`).join(' OR ')})`;
    }
    case 'exists':
      return `json_type(${column}, '${path}') IS ${cond.exists ? 'NOT ' : ''}NULL`;
    case 'range': {
      const bounds = rangeBounds(cond.range);
      const numeric = typeof bounds[0][1] === 'number';
      const typeCheck = numeric ? `json_type(${column}, '${path}') ${NUMERIC}` : `json_type(${column}, '${path}') = 'text'`;
      const ops = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
      const comparisons = bounds.map(([op, bound]) => {
        params.push(bound);
        return `json_extract(${column}, '${path}') ${ops[op]} ?`;
      });
      return `(${typeCheck} AND ${comparisons.join(' AND ')})`;
    }
  }
}
