// The MetadataFilter -> MongoDB query translation, checked without a server:
// each translated query is run by mingo (an in-memory implementation of the
// MongoDB query language) over documents shaped like MongoStore's, and must
// select exactly what the reference evaluator selects. The cases include the
// ones where MongoDB's own semantics differ from ours (arrays, null, missing).
import assert from 'node:assert/strict';
import { Query } from 'mingo';
import type { MetadataFilter } from '@elixirchain/proto/memory';
import { matchesMetadataFilter } from '../src/store/metadata-filter.js';
import { filterToMongoQuery, MATCH_NOTHING } from '../src/store/mongo/metadata-filter-query.js';

const items: Array<[string, Record<string, unknown> | undefined]> = [
  ['m01', { kind: 'note', priority: 1, tags: 'a', user: { id: 'u1', tier: 'gold' } }],
  ['m02', { kind: 'note', priority: 5, done: true }],
  ['m03', { kind: 'task', priority: 3, done: false, user: { id: 'u2' } }],
  ['m04', { kind: 'task', priority: 10, score: 2.5 }],
  ['m05', { kind: 'fact', priority: '3', name: 'alpha' }],
  ['m06', { kind: 'fact', name: 'beta', deleted: null }],
  ['m07', { kind: 'Note', priority: 1.5, name: 'Ärger' }],
  ['m08', {}],
  ['m09', undefined],
  ['m10', { kind: 'note', priority: 7, user: 'not-an-object', name: 'zeta' }],
  // Where MongoDB would walk into arrays.
  ['m11', { kind: ['note', 'task'], tags: ['a', 'b'], priority: [3, 12] }],
  ['m12', { user: [{ id: 'u1' }], deleted: [null] }],
  ['m13', { user: { id: ['u1'] }, name: ['beta'] }],
];

const docs = items.map(([id, metadata]) => (metadata === undefined ? { _id: id, nsId: 'n' } : { _id: id, nsId: 'n', metadata }));

const eq = (field: string, v: unknown) => ({ field, condition: { $case: 'eq' as const, eq: v } });
const cases: Array<[string, MetadataFilter]> = [
  ['eq string', { all: [eq('kind', 'note')], any: [] }],
  ['eq number (not the string "3")', { all: [eq('priority', 3)], any: [] }],
  ['eq boolean', { all: [eq('done', true)], any: [] }],
  ['eq false is not missing', { all: [eq('done', false)], any: [] }],
  ['eq null (not missing, not [null])', { all: [eq('deleted', null)], any: [] }],
  ['nested path (not through an array)', { all: [eq('user.id', 'u1')], any: [] }],
  ['eq does not match inside an array', { all: [eq('tags', 'a')], any: [] }],
  ['ne includes missing and arrays', { all: [{ field: 'kind', condition: { $case: 'ne', ne: 'note' } }], any: [] }],
  ['ne null', { all: [{ field: 'deleted', condition: { $case: 'ne', ne: null } }], any: [] }],
  ['in mixed', { all: [{ field: 'priority', condition: { $case: 'in', in: [1, '3', 10, 12] } }], any: [] }],
  ['in with null', { all: [{ field: 'deleted', condition: { $case: 'in', in: [null, 'x'] } }], any: [] }],
  ['in empty matches nothing', { all: [{ field: 'kind', condition: { $case: 'in', in: [] } }], any: [] }],
  ['range numbers', { all: [{ field: 'priority', condition: { $case: 'range', range: { gte: 1.5, lt: 10 } } }], any: [] }],
  ['range gt only, not via array elements', { all: [{ field: 'priority', condition: { $case: 'range', range: { gt: 5 } } }], any: [] }],
  ['range strings by bytes', { all: [{ field: 'name', condition: { $case: 'range', range: { gte: 'b', lte: 'zz' } } }], any: [] }],
  ['exists true', { all: [{ field: 'done', condition: { $case: 'exists', exists: true } }], any: [] }],
  ['exists true with null', { all: [{ field: 'deleted', condition: { $case: 'exists', exists: true } }], any: [] }],
  ['exists false', { all: [{ field: 'priority', condition: { $case: 'exists', exists: false } }], any: [] }],
  ['nested exists through a non-object or an array', { all: [{ field: 'user.id', condition: { $case: 'exists', exists: true } }], any: [] }],
  ['nested exists false through an array', { all: [{ field: 'user.id', condition: { $case: 'exists', exists: false } }], any: [] }],
  [
    'all and any',
    {
      all: [{ field: 'priority', condition: { $case: 'exists', exists: true } }],
      any: [
        { all: [eq('kind', 'task')], any: [] },
        { all: [eq('kind', 'note'), { field: 'priority', condition: { $case: 'range', range: { gt: 4 } } }], any: [] },
      ],
    },
  ],
  ['nested any inside any', { all: [], any: [{ all: [], any: [{ all: [eq('name', 'beta')], any: [] }, { all: [eq('done', true)], any: [] }] }] }],
  ['empty filter matches all', { all: [], any: [] }],
];

describe('MongoDB filter translation', () => {
  for (const [label, filter] of cases) {
    it(`selects what the reference evaluator selects: ${label}`, () => {
      const expected = items.filter(([, m]) => matchesMetadataFilter(m, filter)).map(([id]) => id);
      const query = new Query({ nsId: 'n', ...filterToMongoQuery(filter) });
      const got = docs.filter((d) => query.test(d)).map((d) => d._id);
      assert.deepEqual(got, expected, JSON.stringify(filterToMongoQuery(filter)));
    });
  }

  it('reaches nested fields under the metadata root and guards every step against arrays', () => {
    assert.deepEqual(filterToMongoQuery({ all: [eq('user.id', 'u1')], any: [] }), {
      $and: [
        { 'metadata.user': { $not: { $type: 'array' } } },
        { 'metadata.user.id': { $eq: 'u1', $not: { $type: 'array' } } },
      ],
    });
  });

  it('turns no filter into an empty query and an empty in into a match-nothing query', () => {
    assert.deepEqual(filterToMongoQuery(undefined), {});
    assert.deepEqual(filterToMongoQuery({ all: [], any: [] }), {});
    assert.deepEqual(filterToMongoQuery({ all: [{ field: 'k', condition: { $case: 'in', in: [] } }], any: [] }), MATCH_NOTHING);
  });

  it('never puts a caller-supplied field name where an operator could be', () => {
    assert.throws(() => filterToMongoQuery({ all: [eq('$where', 1)], any: [] }), /field path/);
    assert.throws(() => filterToMongoQuery({ all: [eq('a.$gt', 1)], any: [] }), /field path/);
  });
});
