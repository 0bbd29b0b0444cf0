// Pure parts of the MongoDB backend that need no server: the $vectorSearch
// pipeline and index definitions, score conversion, configuration, error
// mapping, and the exact cosine ranking both networked backends share.
import assert from 'node:assert/strict';
import { MongoNetworkError, MongoServerError } from 'mongodb';
import {
  cosineFromVectorSearchScore,
  numCandidates,
  vectorField,
  vectorIndexDefinition,
  vectorSearchPipeline,
} from '../src/store/mongo/atlas-vector-search.js';
import { databaseFromUrl, redactMongoUrl, resolveMongoConfig } from '../src/store/mongo/mongo-config.js';
import { isDuplicateKey, toStoreError } from '../src/store/mongo/mongo-errors.js';
import { cosineSimilarity, normalise, TopK } from '../src/store/postgres/cosine-top-k.js';

describe('MongoDB vector search pieces', () => {
  it('indexes one vector field per dimension count with nsId as a filter', () => {
    assert.deepEqual(vectorIndexDefinition(384), {
      name: 'memories_vector384',
      type: 'vectorSearch',
      definition: {
        fields: [
          { type: 'vector', path: 'vector384', numDimensions: 384, similarity: 'cosine' },
          { type: 'filter', path: 'nsId' },
        ],
      },
    });
    assert.equal(vectorField(3), 'vector3');
  });

  it('builds a $vectorSearch stage first, scoped to the namespace, with its score projected', () => {
    const [search, project] = vectorSearchPipeline({ dimensions: 3, nsId: 'ns-1', query: new Float32Array([1, 0, 0]), topK: 5 });
    assert.deepEqual(search, {
      $vectorSearch: {
        index: 'memories_vector3',
        path: 'vector3',
        queryVector: [1, 0, 0],
        numCandidates: 100,
        limit: 5,
        filter: { nsId: { $eq: 'ns-1' } },
      },
    });
    assert.deepEqual(project, { $project: { _id: 0, id: 1, score: { $meta: 'vectorSearchScore' } } });
  });

  it('asks for 20x candidates within the server cap, never fewer than the limit', () => {
    assert.equal(numCandidates(1), 100);
    assert.equal(numCandidates(50), 1000);
    assert.equal(numCandidates(5000), 10_000);
    const [huge] = vectorSearchPipeline({ dimensions: 2, nsId: 'n', query: [1, 0], topK: 50_000 });
    assert.equal(huge.$vectorSearch.limit, 10_000);
    assert.ok(huge.$vectorSearch.numCandidates >= huge.$vectorSearch.limit);
  });

  it('maps the (1 + cos) / 2 score back to cosine', () => {
    assert.equal(cosineFromVectorSearchScore(1), 1);
    assert.equal(cosineFromVectorSearchScore(0.5), 0);
    assert.equal(cosineFromVectorSearchScore(0), -1);
  });
});

describe('exact cosine ranking', () => {
  it('keeps the k best of many candidates, best first, ties by id', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const d = 12;
    const query = normalise(Array.from({ length: d }, rand));
    const candidates = Array.from({ length: 2000 }, (_, i) => ({ id: `m${i}`, v: Array.from({ length: d }, rand) }));
    candidates.push({ id: 'a-tie', v: candidates[5].v }, { id: 'z-tie', v: candidates[5].v });
    const top = new TopK<string>(25);
    for (const c of candidates) top.offer({ key: c.id, id: c.id, score: cosineSimilarity(query, c.v) });
    const expected = candidates
      .map((c) => ({ id: c.id, score: cosineSimilarity(query, c.v) }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, 25);
    assert.deepEqual(top.result().map((r) => r.id), expected.map((r) => r.id));
  });

  it('drops candidates under min_score and scores exact cosines', () => {
    const q = normalise([1, 1]);
    assert.ok(Math.abs(cosineSimilarity(q, [2, 2]) - 1) < 1e-6);
    assert.ok(Math.abs(cosineSimilarity(q, [1, 0]) - Math.SQRT1_2) < 1e-6);
    const top = new TopK<string>(10, 0.5);
    top.offer({ key: 'a', id: 'a', score: 0.9 });
    top.offer({ key: 'b', id: 'b', score: 0.1 });
    assert.deepEqual(top.result().map((r) => r.id), ['a']);
  });
});

describe('MongoDB configuration and errors', () => {
  it('takes the database from the URL path unless given, and hides credentials', () => {
    assert.equal(databaseFromUrl('mongodb://h:1/mem?replicaSet=rs0'), 'mem');
    assert.equal(databaseFromUrl('mongodb+srv://u:p@cluster.example/'), undefined);
    assert.equal(resolveMongoConfig({ url: 'mongodb://h/' }).database, 'elixirchain');
    assert.equal(resolveMongoConfig({ url: 'mongodb://h/mem', database: 'other' }).database, 'other');
    assert.equal(redactMongoUrl('mongodb://user:secret@h:1/db'), 'mongodb://***@h:1/db');
  });

  it('maps network loss to UNAVAILABLE and other server errors to INTERNAL without the query', () => {
    const lost = toStoreError(new MongoNetworkError('connection 3 to 10.0.0.1:27017 closed')) as unknown as { code: number; reason: string };
    assert.equal(lost.code, 14);
    assert.equal(lost.reason, 'STORE_UNAVAILABLE');
    const stepDown = toStoreError(new MongoServerError({ message: 'not primary', code: 10107 })) as unknown as { code: number };
    assert.equal(stepDown.code, 14);
    const other = toStoreError(new MongoServerError({ message: 'bad {secret: 1}', code: 2 })) as Error & { code: number };
    assert.equal(other.code, 13);
    assert.ok(!other.message.includes('secret'));
    assert.ok(isDuplicateKey(new MongoServerError({ message: 'E11000', code: 11000 })));
  });
});
