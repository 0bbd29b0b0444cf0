// Translates a validated MetadataFilter into a PostgreSQL condition over the
// jsonb column filter_metadata, with the semantics of ../metadata-filter.ts.
// Every path and value is a bound parameter. Paths are read with strict-mode
// jsonpath, so stepping through an array or a scalar yields "missing" rather
// than indexing into it. Equality conditions also add a containment test
// (@>) that the GIN index can answer; it is implied by the exact test.
import type { FieldCondition, MetadataFilter } from '@elixirchain/proto/memory';
import { fieldPath, rangeBounds, type Scalar } from '../metadata-filter.js';
import { stripNul } from './json-sanitise.js';

export interface SqlCondition {
  sql: string;
  params: unknown[];
}

/** params continue the caller's numbering: the first placeholder is $<firstIndex>. */
export function filterToSql(filter: MetadataFilter | undefined, column: string, firstIndex: number): SqlCondition {
  const params: unknown[] = [];
  const bind = (value: unknown, cast: string): string => {
    params.push(value);
    return `$${firstIndex + params.length - 1}::${cast}`;
  };
  const sql = filter ? filterSql(filter, column, bind) : 'true';
  return { sql, params };
}

type Bind = (value: unknown, cast: string) => string;

function filterSql(filter: MetadataFilter, column: string, bind: Bind): string {
  const parts = (filter.all ?? []).map((c) => conditionSql(c, column, bind));
  const any = filter.any ?? [];
  if (any.length > 0) parts.push(`(${any.map((f) => filterSql(f, column, bind)).join(' OR ')})`);
  return parts.length === 0 ? 'true' : `(${parts.join(' AND ')})`;
}

function jsonpath(segments: string[]): string {
  return 'strict $' + segments.map((s) => `."${s}"`).join('');
}

/** {a: {b: value}} for a containment test on path a.b. */
function nested(segments: string[], value: Scalar): unknown {
  return segments.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
}

function scalarJson(value: Scalar): string {
  return JSON.stringify(stripNul(value));
}

function conditionSql(c: FieldCondition, column: string, bind: Bind): string {
  const segments = fieldPath(c.field, 'field');
  const cond = c.condition;
  if (!cond) return 'false';
  const value = () => `jsonb_path_query_first(${column}, ${bind(jsonpath(segments), 'jsonpath')}, '{}', true)`;
  switch (cond.$case) {
    case 'eq': {
      const v = (cond.eq ?? null) as Scalar;
      const contains = `${column} @> ${bind(JSON.stringify(stripNul(nested(segments, v))), 'jsonb')}`;
      return `(${contains} AND coalesce(${value()} = ${bind(scalarJson(v), 'jsonb')}, false))`;
    }
    case 'ne': {
      const v = (cond.ne ?? null) as Scalar;
      return `NOT coalesce(${value()} = ${bind(scalarJson(v), 'jsonb')}, false)`;
    }
    case 'in': {
      const values = (cond.in ?? []).map((v) => scalarJson((v ?? null) as Scalar));
      if (values.length === 0) return 'false';
      return `coalesce(${value()} = ANY(${bind(values, 'jsonb[]')}), false)`;
    }
    case 'exists':
      return `(${value()} IS ${cond.exists ? 'NOT ' : ''}NULL)`;
    case 'range': {
      const bounds = rangeBounds(cond.range);
      const numeric = typeof bounds[0][1] === 'number';
      const ops = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
      // CASE, not AND: PostgreSQL does not promise to test the type before casting.
      const v = value();
      const comparisons = bounds.map(([op, bound]) =>
        numeric
          ? `(${v})::numeric ${ops[op]} ${bind(bound, 'numeric')}`
          : `((${v}) #>> '{}') COLLATE "C" ${ops[op]} (${bind(stripNul(bound), 'text')} COLLATE "C")`,
      );
      return `(CASE WHEN jsonb_typeof(${v}) = '${numeric ? 'number' : 'string'}' THEN ${comparisons.join(' AND ')} ELSE false END)`;
    }
  }
}
