import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CachingEmbedder } from '../../src/embedders/caching-embedder.js';
import { EmbedderRegistry, EmbedderUnavailableError } from '../../src/embedders/embedder-registry.js';
import { HashedNgramEmbedder } from '../../src/embedders/hashed-ngram-embedder.js';
import { EmbedderError, OpenAiEmbedder } from '../../src/embedders/openai-embedder.js';

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

describe('HashedNgramEmbedder', () => {
  const e = new HashedNgramEmbedder();

  it('is deterministic, unit length and 384-dimensional by default', async () => {
    const [a, b] = await e.embed(['The quick brown fox', 'The quick brown fox']);
    assert.equal(e.id, 'hashed-ngram-v1');
    assert.equal(a.length, 384);
    assert.deepEqual(a, b);
    assert.ok(Math.abs(cosine(a, a) - 1) < 1e-5);
    // Pinned: a change to the hashing must come with a new id, not silently new vectors.
    assert.equal(a.reduce((s, x, i) => s + x * (i + 1), 0).toFixed(4), '33.1210');
    assert.equal(a[1].toFixed(4), '0.1247');
  });

  it('scores lexically similar text above unrelated text', async () => {
    const [q, near, far] = await e.embed(['database migrations', 'migrating the database schema', 'chocolate cake recipe']);
    assert.ok(cosine(q, near) > cosine(q, far) + 0.2, `${cosine(q, near)} vs ${cosine(q, far)}`);
    const [upper, lower] = await e.embed(['HELLO World', 'hello world']);
    assert.ok(cosine(upper, lower) > 0.999);
  });

  it('embeds text without letters or digits to a non-zero vector', async () => {
    const [emoji] = await e.embed(['🎉🎉']);
    assert.ok(emoji.some((x) => x !== 0));
  });

  it('names non-default parameters in its id', () => {
    assert.equal(new HashedNgramEmbedder({ dimensions: 64 }).id, 'hashed-ngram-v1:d64:n3-5');
  });
});

describe('CachingEmbedder', () => {
  it('embeds identical text once and counts hits', async () => {
    const seen: string[] = [];
    const inner = new HashedNgramEmbedder();
    const cached = new CachingEmbedder({
      id: inner.id,
      dimensions: inner.dimensions,
      embed: async (texts) => {
        seen.push(...texts);
        return inner.embed(texts);
      },
    });
    const first = await cached.embed(['a', 'b', 'a']);
    const second = await cached.embed(['b', 'c']);
    assert.deepEqual(seen, ['a', 'b', 'c']);
    assert.deepEqual(first[0], first[2]);
    assert.deepEqual(second[0], first[1]);
    const stats = cached.stats();
    assert.equal(stats.hits, 1);
    assert.equal(stats.misses, 4);
    assert.ok(stats.bytes > 0);
  });

  it('stays within its byte budget', async () => {
    const cached = new CachingEmbedder(new HashedNgramEmbedder({ dimensions: 64 }), 4096);
    await cached.embed(Array.from({ length: 100 }, (_, i) => `text ${i}`));
    const stats = cached.stats();
    assert.ok(stats.bytes <= 4096);
    assert.ok(stats.evictions > 0);
  });
});

describe('OpenAiEmbedder against a local OpenAI-compatible server', () => {
  let server: Server;
  let baseURL: string;
  const requests: Array<{ auth: string | undefined; body: { input: string[]; model: string; dimensions?: number } }> = [];
  let failuresToSend: Array<{ status: number; headers?: Record<string, string> }> = [];

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => resolve(data));
    });

  before(async () => {
    server = createServer(async (req, res) => {
      const body = JSON.parse(await readBody(req));
      requests.push({ auth: req.headers.authorization, body });
      const failure = failuresToSend.shift();
      if (failure) {
        res.writeHead(failure.status, { 'content-type': 'application/json', ...failure.headers });
        res.end(JSON.stringify({ error: { message: 'try later', type: 'rate_limit' } }));
        return;
      }
      const dims = body.dimensions ?? 4;
      // Answer out of order: the embedder must place vectors by index.
      const data = body.input
        .map((text: string, index: number) => ({
          object: 'embedding',
          index,
          embedding: Array.from({ length: dims }, (_, j) => text.length + j + 1),
        }))
        .reverse();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    requests.length = 0;
    failuresToSend = [];
  });

  it('batches inputs and keeps their order', async () => {
    const e = new OpenAiEmbedder({ apiKey: 'sk-test-secret', baseURL, model: 'm1', batchSize: 2 });
    const out = await e.embed(['a', 'bb', 'ccc']);
    assert.equal(requests.length, 2);
    assert.deepEqual(requests.map((r) => r.body.input), [['a', 'bb'], ['ccc']]);
    assert.equal(requests[0].body.model, 'm1');
    assert.equal(requests[0].auth, 'Bearer sk-test-secret');
    assert.deepEqual(Array.from(out[0]), [2, 3, 4, 5]);
    assert.deepEqual(Array.from(out[2]), [4, 5, 6, 7]);
    assert.equal(e.id, 'openai:m1');
    assert.equal(e.dimensions, 4);
  });

  it('retries 429 and 5xx with backoff, honouring retry-after-ms', async () => {
    failuresToSend = [{ status: 429, headers: { 'retry-after-ms': '20' } }, { status: 503, headers: { 'retry-after-ms': '20' } }];
    const e = new OpenAiEmbedder({ apiKey: 'k', baseURL, model: 'm', maxRetries: 3 });
    const [v] = await e.embed(['hello']);
    assert.equal(requests.length, 3);
    assert.equal(v.length, 4);
  });

  it('fails without retrying a 400, with no key in the error', async () => {
    failuresToSend = [{ status: 400 }];
    const e = new OpenAiEmbedder({ apiKey: 'sk-very-secret-key', baseURL, model: 'm', maxRetries: 3 });
    await assert.rejects(e.embed(['x']), (err: unknown) => {
      assert.ok(err instanceof EmbedderError);
      assert.equal(err.status, 400);
      assert.ok(!String(err.message).includes('sk-very-secret-key'));
      return true;
    });
    assert.equal(requests.length, 1);
  });

  it('passes requested dimensions through the registry', async () => {
    const registry = new EmbedderRegistry({ openai: { apiKey: 'k', baseURL }, defaultEmbedder: 'openai:small:d8' });
    const [v] = await registry.get().embed(['abc']);
    assert.equal(v.length, 8);
    assert.equal(requests[0].body.dimensions, 8);
    assert.equal(requests[0].body.model, 'small');
  });
});

describe('EmbedderRegistry', () => {
  it('defaults to the offline embedder without a key and refuses openai ids', () => {
    const registry = new EmbedderRegistry({ openai: false });
    assert.equal(registry.defaultId, 'hashed-ngram-v1');
    assert.equal(registry.get('hashed-ngram-v1:d64:n3-5').dimensions, 64);
    assert.throws(() => registry.get('openai:text-embedding-3-small'), EmbedderUnavailableError);
    assert.throws(() => registry.get('no-such-embedder'), EmbedderUnavailableError);
  });
});
