// Translates a validated MetadataFilter into a MongoDB query with the
// semantics of ../metadata-filter.ts, which differ from MongoDB's own in
// three ways this translation has to undo:
// - MongoDB walks into arrays (`{tags: 'a'}` matches tags: ['a', 'b'], and
//   `user.id` reaches into [{id}]); ours compares scalars, and a path through
//   anything but an object is missing. So every condition also requires that
//   no step of the path, and not the value itself, is an array.
// - `{f: null}` also matches a missing field; ours does not: null is matched
//   by BSON type.
// - ne matches a missing field, in both; but ne must be "not (eq)" under our
//   eq, so it is built as $nor of our eq.
// Numbers compare across int/long/double, as JSON numbers do; strings compare
// by binary (UTF-8 byte) order under MongoDB's default simple collation.
import type { Document } from 'mongodb';
import type { FieldCondition, MetadataFilter } from '@elixirchain/proto/memory';
import { fieldPath, rangeBounds, type Scalar } from '../metadata-filter.js';

/** Matches no document; { _id: { $in: [] } } is answered from the _id index. */
export const MATCH_NOTHING: Document = Object.freeze({ _id: { $in: [] } });

/**
 * The query for filter over metadata stored under `root` (default "metadata").
 * An absent or empty filter gives {}.
 */
export function filterToMongoQuery(filter: MetadataFilter | undefined, root = 'metadata'): Document {
  if (!filter) return {};
  return simplify(filterQuery(filter, root));
}

function filterQuery(filter: MetadataFilter, root: string): Document {
  const parts: Document[] = (filter.all ?? []).map((c) => conditionQuery(c, root));
  const any = filter.any ?? [];
  if (any.length > 0) parts.push({ $or: any.map((f) => simplify(filterQuery(f, root))) });
  if (parts.length === 0) return {};
  return { $and: parts };
}

function simplify(query: Document): Document {
  const and = query.$and as Document[] | undefined;
  if (and && Object.keys(query).length === 1 && and.length === 1) return and[0];
  return query;
}

/** Dotted paths of every proper prefix of segments, each of which must not be an array. */
function prefixGuards(root: string, segments: string[]): Document[] {
  const guards: Document[] = [];
  for (let i = 1; i < segments.length; i++) {
    guards.push({ [`${root}.${segments.slice(0, i).join('.')}`]: { $not: { $type: 'array' } } });
  }
  return guards;
}

function all(parts: Document[]): Document {
  return parts.length === 1 ? parts[0] : { $and: parts };
}

/** The value at the path is exactly the scalar v (type and value). */
function eqQuery(root: string, segments: string[], v: Scalar): Document {
  const path = `${root}.${segments.join('.')}`;
  const value: Document =
    v === null ? { $type: 'null', $not: { $type: 'array' } } : { $eq: v, $not: { $type: 'array' } };
  return all([...prefixGuards(root, segments), { [path]: value }]);
}

/** The path resolves to a value (null included) through objects only. */
function presentQuery(root: string, segments: string[]): Document {
  const path = `${root}.${segments.join('.')}`;
  return all([...prefixGuards(root, segments), { [path]: { $exists: true } }]);
}

function conditionQuery(c: FieldCondition, root: string): Document {
  const segments = fieldPath(c.field, 'field');
  const cond = c.condition;
  if (!cond) return MATCH_NOTHING;
  switch (cond.$case) {
    case 'eq':
      return eqQuery(root, segments, (cond.eq ?? null) as Scalar);
    case 'ne':
      return { $nor: [eqQuery(root, segments, (cond.ne ?? null) as Scalar)] };
    case 'in': {
      const values = (cond.in ?? []).map((v) => (v ?? null) as Scalar);
      if (values.length === 0) return MATCH_NOTHING;
      if (values.length === 1) return eqQuery(root, segments, values[0]);
      return { $or: values.map((v) => eqQuery(root, segments, v)) };
    }
    case 'exists':
      return cond.exists ? presentQuery(root, segments) : { $nor: [presentQuery(root, segments)] };
    case 'range': {
      const bounds = rangeBounds(cond.range);
      const ops = { gt: '$gt', gte: '$gte', lt: '$lt', lte: '$lte' } as const;
      // Type bracketing: a numeric bound only matches numbers, a string bound only strings.
      const value: Document = { $not: { $type: 'array' } };
      for (const [op, bound] of bounds) value[ops[op]] = bound;
      return all([...prefixGuards(root, segments), { [`${root}.${segments.join('.')}`]: value }]);
    }
  }
}
