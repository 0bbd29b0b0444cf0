// The contract every Store backend passes. A backend's test file calls
//   runStoreContractSuite('postgres', () => PostgresStore.open(...), (s) => s.drop())
// makeStore must return an empty store; dropStore closes it and removes its data.
import assert from 'node:assert/strict';
import type { MetadataFilter } from '@elixirchain/proto/memory';
import { Role } from '@elixirchain/proto/memory';
import type { MemoryInput, MessageInput, Store, WriteOperation } from '../../src/store/store.js';
import { withBatchRequestIds } from '../../src/service/memory-service.js';
import { matchesMetadataFilter } from '../../src/store/metadata-filter.js';

const ABORTED = 10;
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
const FAILED_PRECONDITION = 9;

interface ErrorLike {
  code?: unknown;
  reason?: unknown;
  metadata?: Record<string, string>;
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: number,
  reason?: string,
): Promise<ErrorLike> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught, `expected a rejection with code ${code}`);
  const e = caught as ErrorLike;
  assert.equal(e.code, code, `expected code ${code}, got ${String(e.code)}: ${(caught as Error).message}`);
  if (reason) assert.equal(e.reason, reason);
  return e;
}

function msg(content: string, extra: Partial<MessageInput> = {}): MessageInput {
  return {
    id: '',
    role: Role.ROLE_USER,
    content,
    toolCalls: [],
    toolCallId: '',
    name: '',
    isError: false,
    turnId: '',
    ...extra,
  };
}

function unit(dims: number, hot: number, weight = 1): number[] {
  const v = new Array<number>(dims).fill(0);
  v[hot % dims] = weight;
  return v;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runStoreContractSuite(
  name: string,
  makeStore: () => Promise<Store>,
  dropStore: (store: Store) => Promise<void>,
): void {
  describe(`Store contract: ${name}`, function () {
    this.timeout(60_000);
    let store: Store;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await dropStore(store);
    });

    describe('threads', () => {
      it('creates a thread on first append and assigns ids, sequences and times', async () => {
        const before = Date.now();
        const res = await store.appendMessages({ threadId: 't1', messages: [msg('a'), msg('b')] });
        assert.equal(res.replayed, false);
        assert.equal(res.thread.id, 't1');
        assert.equal(res.thread.version, 2);
        assert.deepEqual(res.messages.map((m) => m.sequence), [1, 2]);
        assert.ok(res.messages.every((m) => m.id.length > 0 && m.threadId === 't1'));
        assert.notEqual(res.messages[0].id, res.messages[1].id);
        assert.ok(res.messages[0].createTime instanceof Date);
        assert.ok(res.messages[0].createTime.getTime() >= before - 1000);
        const again = await store.appendMessages({ threadId: 't1', messages: [msg('c', { id: 'mine' })] });
        assert.equal(again.thread.version, 3);
        assert.equal(again.messages[0].id, 'mine');
        assert.equal(again.messages[0].sequence, 3);
        const got = await store.getThread('t1');
        assert.equal(got.version, 3);
        assert.ok(got.createTime instanceof Date && got.updateTime instanceof Date);
      });

      it('round-trips every message field, unicode included', async () => {
        const content = 'héllo 世界 🧪 \u{1F600} \u0000 end';
        const input = msg(content, {
          role: Role.ROLE_ASSISTANT,
          toolCalls: [{ id: 'call-1', name: 'search', arguments: { q: 'ünïcode', n: 3, nested: { ok: true } } }],
          turnId: 'turn-7',
          metadata: { lang: 'zh', tags: ['a', 'b'], score: 0.5 },
        });
        const toolMsg = msg('', {
          role: Role.ROLE_TOOL,
          toolCallId: 'call-1',
          name: 'search',
          toolResult: { hits: [1, 2, { x: null }] },
          isError: true,
        });
        await store.appendMessages({ threadId: 'スレッド-🧵', messages: [input, toolMsg] });
        const listed = await store.listMessages({ threadId: 'スレッド-🧵', limit: 10, newestFirst: false });
        assert.equal(listed.messages.length, 2);
        const [a, t] = listed.messages;
        assert.equal(a.content, content);
        assert.equal(a.role, Role.ROLE_ASSISTANT);
        assert.deepEqual(a.toolCalls, input.toolCalls);
        assert.equal(a.turnId, 'turn-7');
        assert.deepEqual(a.metadata, input.metadata);
        assert.equal(t.role, Role.ROLE_TOOL);
        assert.equal(t.toolCallId, 'call-1');
        assert.equal(t.name, 'search');
        assert.deepEqual(t.toolResult, { hits: [1, 2, { x: null }] });
        assert.equal(t.isError, true);
      });

      it('merges thread metadata on append', async () => {
        await store.appendMessages({ threadId: 't', messages: [msg('a')], threadMetadata: { a: 1, b: 'x' } });
        const res = await store.appendMessages({ threadId: 't', messages: [msg('b')], threadMetadata: { b: 'y', c: true } });
        assert.deepEqual(res.thread.metadata, { a: 1, b: 'y', c: true });
      });

      it('refuses a stale expected_version with ABORTED and the current version, writing nothing', async () => {
        await store.appendMessages({ threadId: 't', messages: [msg('a')], expectedVersion: 0 });
        const e = await rejectsWith(
          store.appendMessages({ threadId: 't', messages: [msg('b')], expectedVersion: 0 }),
          ABORTED,
          'VERSION_CONFLICT',
        );
        assert.equal(e.metadata?.currentVersion, '1');
        await rejectsWith(store.appendMessages({ threadId: 'new', messages: [msg('b')], expectedVersion: 3 }), ABORTED);
        assert.equal((await store.getThread('t')).version, 1);
        await rejectsWith(store.getThread('new'), NOT_FOUND, 'THREAD_NOT_FOUND');
        const ok = await store.appendMessages({ threadId: 't', messages: [msg('b')], expectedVersion: 1 });
        assert.equal(ok.thread.version, 2);
      });

      it('lets exactly one of two concurrent writers with the same expected_version win', async () => {
        await store.appendMessages({ threadId: 't', messages: [msg('seed')] });
        const outcomes = await Promise.allSettled(
          ['w1', 'w2', 'w3', 'w4'].map((w) =>
            store.appendMessages({ threadId: 't', messages: [msg(w)], expectedVersion: 1 }),
          ),
        );
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        assert.equal(won.length, 1);
        assert.equal(lost.length, 3);
        for (const l of lost) assert.equal((l.reason as ErrorLike).code, ABORTED);
        assert.equal((await store.getThread('t')).version, 2);
      });

      it('replays a retried request_id: same outcome, nothing appended, even with a now-stale version', async () => {
        const first = await store.appendMessages({
          threadId: 't',
          messages: [msg('a'), msg('b')],
          expectedVersion: 0,
          requestId: 'req-1',
        });
        const retry = await store.appendMessages({
          threadId: 't',
          messages: [msg('a'), msg('b')],
          expectedVersion: 0,
          requestId: 'req-1',
        });
        assert.equal(retry.replayed, true);
        assert.deepEqual(retry.messages.map((m) => m.id), first.messages.map((m) => m.id));
        assert.deepEqual(retry.messages.map((m) => m.sequence), [1, 2]);
        assert.equal(retry.thread.version, 2);
        assert.equal((await store.getThread('t')).version, 2);
        await rejectsWith(
          store.appendMessages({ threadId: 'other', messages: [msg('a')], requestId: 'req-1' }),
          FAILED_PRECONDITION,
          'REQUEST_ID_REUSED',
        );
      });

      it('pages messages oldest-first and newest-first with exact boundaries', async () => {
        await store.appendMessages({ threadId: 't', messages: Array.from({ length: 10 }, (_, i) => msg(`m${i + 1}`)) });
        const seqs: number[] = [];
        let cursor: number | undefined;
        let pages = 0;
        do {
          const page = await store.listMessages({ threadId: 't', limit: 5, newestFirst: false, afterSequence: cursor });
          seqs.push(...page.messages.map((m) => m.sequence));
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== undefined);
        assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert.equal(pages, 2, 'an exactly full last page has no next cursor');

        const desc: number[] = [];
        cursor = undefined;
        do {
          const page = await store.listMessages({ threadId: 't', limit: 3, newestFirst: true, beforeSequence: cursor });
          assert.equal(page.thread.version, 10);
          desc.push(...page.messages.map((m) => m.sequence));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        assert.deepEqual(desc, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);

        const tail = await store.listMessages({ threadId: 't', limit: 100, newestFirst: false, afterSequence: 8 });
        assert.deepEqual(tail.messages.map((m) => m.content), ['m9', 'm10']);
        assert.equal(tail.nextCursor, undefined);
        const beyond = await store.listMessages({ threadId: 't', limit: 5, newestFirst: false, afterSequence: 10 });
        assert.equal(beyond.messages.length, 0);
        await rejectsWith(store.listMessages({ threadId: 'nope', limit: 5, newestFirst: false }), NOT_FOUND);
      });

      it('lists threads by prefix with pagination', async () => {
        for (const id of ['agent:a/1', 'agent:a/2', 'agent:a/3', 'agent:b/1', 'agent:a%/x', 'other']) {
          await store.appendMessages({ threadId: id, messages: [msg('x')] });
        }
        const ids: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listThreads({ limit: 2, prefix: 'agent:a/', afterId: cursor });
          ids.push(...page.threads.map((t) => t.id));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        assert.deepEqual(ids, ['agent:a/1', 'agent:a/2', 'agent:a/3']);
        const all = await store.listThreads({ limit: 100 });
        assert.equal(all.threads.length, 6);
        assert.equal(all.nextCursor, undefined);
        const pct = await store.listThreads({ limit: 100, prefix: 'agent:a%' });
        assert.deepEqual(pct.threads.map((t) => t.id), ['agent:a%/x']);
      });

      it('deletes a thread with its messages, honouring expected_version', async () => {
        await store.appendMessages({ threadId: 't', messages: [msg('a'), msg('b')], requestId: 'r-del' });
        await rejectsWith(store.deleteThread({ threadId: 't', expectedVersion: 1 }), ABORTED);
        assert.deepEqual(await store.deleteThread({ threadId: 't', expectedVersion: 2 }), { deleted: true });
        await rejectsWith(store.getThread('t'), NOT_FOUND);
        await rejectsWith(store.listMessages({ threadId: 't', limit: 5, newestFirst: false }), NOT_FOUND);
        assert.deepEqual(await store.deleteThread({ threadId: 't' }), { deleted: false });
        const fresh = await store.appendMessages({ threadId: 't', messages: [msg('c')] });
        assert.equal(fresh.thread.version, 1);
        assert.equal(fresh.messages[0].sequence, 1);
      });

      it('appends a large batch of messages in one call', async () => {
        const res = await store.appendMessages({
          threadId: 'big',
          messages: Array.from({ length: 1000 }, (_, i) => msg(`message ${i} ${'x'.repeat(100)}`)),
        });
        assert.equal(res.thread.version, 1000);
        const last = await store.listMessages({ threadId: 'big', limit: 1, newestFirst: true });
        assert.equal(last.messages[0].sequence, 1000);
        assert.equal(last.nextCursor, 1000, 'the cursor is the last sequence returned');
      });
    });

    describe('memories', () => {
      const dims = 8;
      const mem = (id: string, hot: number, metadata?: Record<string, unknown>): MemoryInput => ({
        id,
        text: `text of ${id}`,
        metadata,
        vector: unit(dims, hot),
      });

      it('creates a namespace on first upsert with its embedder and dimensions', async () => {
        const res = await store.upsertMemories({
          namespace: 'ns',
          memories: [mem('a', 0), mem('b', 1)],
          embedder: 'test-embedder',
          dimensions: dims,
        });
        assert.equal(res.namespace.name, 'ns');
        assert.equal(res.namespace.embedder, 'test-embedder');
        assert.equal(res.namespace.dimensions, dims);
        assert.equal(res.namespace.memoryCount, 2);
        assert.deepEqual(res.memories.map((m) => m.id), ['a', 'b']);
        assert.ok(res.memories[0].createTime instanceof Date);
        const got = await store.getMemory('ns', 'a', true);
        assert.equal(got.text, 'text of a');
        assert.equal(got.namespace, 'ns');
        assert.deepEqual(got.vector, unit(dims, 0));
        assert.deepEqual((await store.getMemory('ns', 'a')).vector, []);
        const ns = await store.getNamespace('ns');
        assert.equal(ns.memoryCount, 2);
        // An existing namespace keeps its embedder.
        const later = await store.upsertMemories({ namespace: 'ns', memories: [mem('c', 2)], embedder: 'other', dimensions: dims });
        assert.equal(later.namespace.embedder, 'test-embedder');
      });

      it('rejects vectors of another size with DIMENSION_MISMATCH and writes nothing', async () => {
        await store.upsertMemories({ namespace: 'ns', memories: [mem('a', 0)], embedder: 'e', dimensions: dims });
        const e = await rejectsWith(
          store.upsertMemories({
            namespace: 'ns',
            memories: [mem('b', 1), { id: 'c', text: 'c', vector: [1, 2, 3] }],
            embedder: 'e',
            dimensions: dims,
          }),
          INVALID_ARGUMENT,
          'DIMENSION_MISMATCH',
        );
        assert.equal(e.metadata?.expectedDimensions, String(dims));
        await rejectsWith(store.getMemory('ns', 'b'), NOT_FOUND, 'MEMORY_NOT_FOUND');
        await rejectsWith(store.searchMemories({ namespace: 'ns', vector: [1, 0], topK: 3 }), INVALID_ARGUMENT, 'DIMENSION_MISMATCH');
        await rejectsWith(
          store.upsertMemories({ namespace: 'new', memories: [{ id: 'x', text: 'x', vector: [1, 0, 0] }], embedder: 'e', dimensions: 4 }),
          INVALID_ARGUMENT,
          'DIMENSION_MISMATCH',
        );
      });

      it('rejects zero and non-finite vectors', async () => {
        await rejectsWith(
          store.upsertMemories({ namespace: 'ns', memories: [{ id: 'z', text: 'z', vector: new Array(dims).fill(0) }], embedder: 'e', dimensions: dims }),
          INVALID_ARGUMENT,
          'INVALID_VECTOR',
        );
        const nan = unit(dims, 0);
        nan[3] = Number.NaN;
        await rejectsWith(
          store.upsertMemories({ namespace: 'ns', memories: [{ id: 'n', text: 'n', vector: nan }], embedder: 'e', dimensions: dims }),
          INVALID_ARGUMENT,
          'INVALID_VECTOR',
        );
      });

      it('replaces a memory with the same id, keeping its create time and the count', async () => {
        const first = await store.upsertMemories({ namespace: 'ns', memories: [mem('a', 0, { v: 1 })], embedder: 'e', dimensions: dims });
        await sleep(5);
        const second = await store.upsertMemories({
          namespace: 'ns',
          memories: [{ id: 'a', text: 'new text', metadata: { v: 2 }, vector: unit(dims, 5) }],
          embedder: 'e',
          dimensions: dims,
        });
        assert.equal(second.namespace.memoryCount, 1);
        const got = await store.getMemory('ns', 'a', true);
        assert.equal(got.text, 'new text');
        assert.deepEqual(got.metadata, { v: 2 });
        assert.deepEqual(got.vector, unit(dims, 5));
        assert.equal(got.createTime?.getTime(), first.memories[0].createTime?.getTime());
        assert.ok((got.updateTime?.getTime() ?? 0) >= (got.createTime?.getTime() ?? 0));
        const hit = await store.searchMemories({ namespace: 'ns', vector: unit(dims, 5), topK: 1 });
        assert.equal(hit.results[0].memory.id, 'a');
        assert.ok(Math.abs(hit.results[0].score - 1) < 1e-4);
      });

      it('ranks by cosine similarity with top_k, min_score and optional vectors', async () => {
        const q = [1, 1, 0, 0, 0, 0, 0, 0];
        await store.upsertMemories({
          namespace: 'ns',
          memories: [
            { id: 'exact', text: 'e', vector: [2, 2, 0, 0, 0, 0, 0, 0] },
            { id: 'half', text: 'h', vector: [1, 0, 0, 0, 0, 0, 0, 0] },
            { id: 'ortho', text: 'o', vector: [0, 0, 1, 0, 0, 0, 0, 0] },
            { id: 'opposite', text: 'x', vector: [-1, -1, 0, 0, 0, 0, 0, 0] },
          ],
          embedder: 'e',
          dimensions: dims,
        });
        const all = await store.searchMemories({ namespace: 'ns', vector: q, topK: 10 });
        assert.deepEqual(all.results.map((r) => r.memory.id), ['exact', 'half', 'ortho', 'opposite']);
        const expected = [1, Math.SQRT1_2, 0, -1];
        all.results.forEach((r, i) => assert.ok(Math.abs(r.score - expected[i]) < 1e-4, `score ${r.score} vs ${expected[i]}`));
        assert.deepEqual(all.results[0].memory.vector, []);
        assert.equal(all.namespace.memoryCount, 4);
        const top2 = await store.searchMemories({ namespace: 'ns', vector: q, topK: 2, includeVectors: true });
        assert.deepEqual(top2.results.map((r) => r.memory.id), ['exact', 'half']);
        assert.deepEqual(top2.results[0].memory.vector, [2, 2, 0, 0, 0, 0, 0, 0]);
        const above = await store.searchMemories({ namespace: 'ns', vector: q, topK: 10, minScore: 0.5 });
        assert.deepEqual(above.results.map((r) => r.memory.id), ['exact', 'half']);
        await rejectsWith(store.searchMemories({ namespace: 'missing', vector: q, topK: 1 }), NOT_FOUND, 'NAMESPACE_NOT_FOUND');
      });

      describe('metadata filters', () => {
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
        ];
        const eq = (field: string, v: unknown) => ({ field, condition: { $case: 'eq' as const, eq: v } });
        const cases: Array<[string, MetadataFilter]> = [
          ['eq string', { all: [eq('kind', 'note')], any: [] }],
          ['eq number (not the string "3")', { all: [eq('priority', 3)], any: [] }],
          ['eq boolean', { all: [eq('done', true)], any: [] }],
          ['eq false is not missing', { all: [eq('done', false)], any: [] }],
          ['eq null', { all: [eq('deleted', null)], any: [] }],
          ['nested path', { all: [eq('user.id', 'u1')], any: [] }],
          ['ne includes missing', { all: [{ field: 'kind', condition: { $case: 'ne', ne: 'note' } }], any: [] }],
          ['in mixed', { all: [{ field: 'priority', condition: { $case: 'in', in: [1, '3', 10] } }], any: [] }],
          ['in empty matches nothing', { all: [{ field: 'kind', condition: { $case: 'in', in: [] } }], any: [] }],
          ['range numbers', { all: [{ field: 'priority', condition: { $case: 'range', range: { gte: 1.5, lt: 10 } } }], any: [] }],
          ['range gt only', { all: [{ field: 'priority', condition: { $case: 'range', range: { gt: 5 } } }], any: [] }],
          ['range strings by bytes', { all: [{ field: 'name', condition: { $case: 'range', range: { gte: 'b', lte: 'zz' } } }], any: [] }],
          ['exists true', { all: [{ field: 'done', condition: { $case: 'exists', exists: true } }], any: [] }],
          ['exists true with null', { all: [{ field: 'deleted', condition: { $case: 'exists', exists: true } }], any: [] }],
          ['exists false', { all: [{ field: 'priority', condition: { $case: 'exists', exists: false } }], any: [] }],
          ['nested exists through a non-object', { all: [{ field: 'user.id', condition: { $case: 'exists', exists: true } }], any: [] }],
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
          ['empty filter matches all', { all: [], any: [] }],
        ];

        beforeEach(async () => {
          await store.upsertMemories({
            namespace: 'f',
            memories: items.map(([id, metadata], i) => ({ id, text: id, metadata, vector: unit(dims, i, 1 + i) })),
            embedder: 'e',
            dimensions: dims,
          });
        });

        for (const [label, filter] of cases) {
          it(`filters search and list: ${label}`, async () => {
            const expected = items.filter(([, m]) => matchesMetadataFilter(m, filter)).map(([id]) => id).sort();
            const found = await store.searchMemories({ namespace: 'f', vector: unit(dims, 0), topK: 100, filter });
            assert.deepEqual(found.results.map((r) => r.memory.id).sort(), expected);
            const listed = await store.listMemories({ namespace: 'f', limit: 100, filter });
            assert.deepEqual(listed.memories.map((m) => m.id), expected);
          });
        }

        it('sanity: the reference evaluator selects what the cases say', () => {
          const pick = (f: MetadataFilter) => items.filter(([, m]) => matchesMetadataFilter(m, f)).map(([id]) => id);
          assert.deepEqual(pick(cases[1][1]), ['m03']);
          assert.deepEqual(pick(cases[6][1]), ['m03', 'm04', 'm05', 'm06', 'm07', 'm08', 'm09']);
          assert.deepEqual(pick(cases[16][1]), ['m02', 'm03', 'm04', 'm10']);
        });

        it('rejects malformed filters with INVALID_ARGUMENT', async () => {
          const bad: MetadataFilter[] = [
            { all: [{ field: '', condition: { $case: 'eq', eq: 1 } }], any: [] },
            { all: [{ field: "x'); drop table memories; --", condition: { $case: 'eq', eq: 1 } }], any: [] },
            { all: [{ field: 'x', condition: undefined }], any: [] },
            { all: [{ field: 'x', condition: { $case: 'eq', eq: { obj: 1 } } }], any: [] },
            { all: [{ field: 'x', condition: { $case: 'range', range: {} } }], any: [] },
            { all: [{ field: 'x', condition: { $case: 'range', range: { gt: 1, lt: 'z' } } }], any: [] },
          ];
          for (const filter of bad) {
            await rejectsWith(store.searchMemories({ namespace: 'f', vector: unit(dims, 0), topK: 3, filter }), INVALID_ARGUMENT, 'INVALID_FILTER');
            await rejectsWith(store.listMemories({ namespace: 'f', limit: 3, filter }), INVALID_ARGUMENT, 'INVALID_FILTER');
          }
        });
      });

      it('pages memories by id and counts deletes', async () => {
        await store.upsertMemories({
          namespace: 'ns',
          memories: Array.from({ length: 7 }, (_, i) => mem(`id-${i}`, i)),
          embedder: 'e',
          dimensions: dims,
        });
        const ids: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listMemories({ namespace: 'ns', limit: 3, afterId: cursor });
          ids.push(...page.memories.map((m) => m.id));
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== undefined);
        assert.deepEqual(ids, Array.from({ length: 7 }, (_, i) => `id-${i}`));
        assert.equal(pages, 3);
        assert.deepEqual(await store.deleteMemory('ns', 'id-3'), { deleted: true });
        assert.deepEqual(await store.deleteMemory('ns', 'id-3'), { deleted: false });
        assert.equal((await store.getNamespace('ns')).memoryCount, 6);
        await rejectsWith(store.getMemory('ns', 'id-3'), NOT_FOUND);
        const search = await store.searchMemories({ namespace: 'ns', vector: unit(dims, 3), topK: 10 });
        assert.ok(!search.results.some((r) => r.memory.id === 'id-3'));
        await rejectsWith(store.listMemories({ namespace: 'missing', limit: 3 }), NOT_FOUND);
      });

      it('lists namespaces and deletes one with all its memories', async () => {
        for (const ns of ['n-a', 'n-b', 'n-c']) {
          await store.upsertMemories({ namespace: ns, memories: [mem('x', 0), mem('y', 1)], embedder: 'e', dimensions: dims });
        }
        const names: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listNamespaces({ limit: 2, afterName: cursor });
          names.push(...page.namespaces.map((n) => n.name));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        assert.deepEqual(names, ['n-a', 'n-b', 'n-c']);
        assert.deepEqual(await store.deleteNamespace('n-b'), { deleted: true, deletedMemories: 2 });
        assert.deepEqual(await store.deleteNamespace('n-b'), { deleted: false, deletedMemories: 0 });
        await rejectsWith(store.getNamespace('n-b'), NOT_FOUND);
        await rejectsWith(store.getMemory('n-b', 'x'), NOT_FOUND);
        await rejectsWith(store.searchMemories({ namespace: 'n-b', vector: unit(dims, 0), topK: 1 }), NOT_FOUND);
        // Other namespaces are untouched; the name can be reused with other dimensions.
        assert.equal((await store.getMemory('n-a', 'x')).id, 'x');
        const again = await store.upsertMemories({ namespace: 'n-b', memories: [{ id: 'z', text: 'z', vector: [1, 2, 3] }], embedder: 'e2', dimensions: 3 });
        assert.equal(again.namespace.dimensions, 3);
        assert.equal(again.namespace.memoryCount, 1);
      });

      it('upserts a large batch and finds any of it', async () => {
        const big = 3000;
        const d = 32;
        const vec = (i: number) => Array.from({ length: d }, (_, j) => Math.sin(i * 7.3 + j * 1.1));
        await store.upsertMemories({
          namespace: 'big',
          memories: Array.from({ length: big }, (_, i) => ({ id: `m${i}`, text: `memory ${i} ✓`, metadata: { i, even: i % 2 === 0 }, vector: vec(i) })),
          embedder: 'e',
          dimensions: d,
        });
        assert.equal((await store.getNamespace('big')).memoryCount, big);
        const hit = await store.searchMemories({
          namespace: 'big',
          vector: vec(1234),
          topK: 3,
          filter: { all: [{ field: 'even', condition: { $case: 'eq', eq: true } }], any: [] },
        });
        assert.equal(hit.results[0].memory.id, 'm1234');
        assert.ok(hit.results.every((r) => (r.memory.metadata as { even: boolean }).even));
        assert.equal(hit.results[0].memory.text, 'memory 1234 ✓');
      });
    });

    describe('state', () => {
      it('versions entries from 1 and keeps the create time', async () => {
        const a = await store.putState({ key: 'k', value: { $case: 'structValue', structValue: { n: 1, s: 'ü' } } });
        assert.equal(a.version, 1);
        await sleep(5);
        const b = await store.putState({ key: 'k', value: { $case: 'bytesValue', bytesValue: Buffer.from([0, 1, 2, 255]) } });
        assert.equal(b.version, 2);
        assert.equal(b.createTime?.getTime(), a.createTime?.getTime());
        const got = await store.getState('k');
        assert.equal(got.version, 2);
        assert.equal(got.value?.$case, 'bytesValue');
        assert.deepEqual(got.value?.$case === 'bytesValue' && [...got.value.bytesValue], [0, 1, 2, 255]);
        assert.equal(got.expireTime, undefined);
        await store.putState({ key: 'k', value: { $case: 'structValue', structValue: { nested: { deep: [1, 'two', null] } } } });
        const s = await store.getState('k');
        assert.deepEqual(s.value, { $case: 'structValue', structValue: { nested: { deep: [1, 'two', null] } } });
        await rejectsWith(store.getState('missing'), NOT_FOUND, 'STATE_NOT_FOUND');
      });

      it('compares and sets on expected_version', async () => {
        const v = { $case: 'structValue' as const, structValue: { x: 1 } };
        await store.putState({ key: 'k', value: v, expectedVersion: 0 });
        const e = await rejectsWith(store.putState({ key: 'k', value: v, expectedVersion: 0 }), ABORTED, 'VERSION_CONFLICT');
        assert.equal(e.metadata?.currentVersion, '1');
        await rejectsWith(store.putState({ key: 'absent', value: v, expectedVersion: 1 }), ABORTED);
        assert.equal((await store.putState({ key: 'k', value: v, expectedVersion: 1 })).version, 2);
        const racers = await Promise.allSettled(
          [1, 2, 3].map((n) => store.putState({ key: 'k', value: { $case: 'structValue', structValue: { n } }, expectedVersion: 2 })),
        );
        assert.equal(racers.filter((r) => r.status === 'fulfilled').length, 1);
        assert.equal((await store.getState('k')).version, 3);
      });

      it('replays a put retried with the same request_id', async () => {
        const v = { $case: 'structValue' as const, structValue: { x: 1 } };
        const first = await store.putState({ key: 'k', value: v, requestId: 'p1' });
        const retry = await store.putState({ key: 'k', value: v, requestId: 'p1' });
        assert.equal(retry.version, first.version);
        assert.equal((await store.getState('k')).version, 1);
        await rejectsWith(store.putState({ key: 'other', value: v, requestId: 'p1' }), FAILED_PRECONDITION, 'REQUEST_ID_REUSED');
      });

      it('expires entries after their ttl', async () => {
        const v = { $case: 'structValue' as const, structValue: { x: 1 } };
        const e = await store.putState({ key: 'ttl/a', value: v, ttlMs: 150 });
        assert.ok(e.expireTime instanceof Date);
        await store.putState({ key: 'ttl/b', value: v });
        assert.equal((await store.getState('ttl/a')).version, 1);
        await sleep(400);
        await rejectsWith(store.getState('ttl/a'), NOT_FOUND);
        const listed = await store.listState({ prefix: 'ttl/', limit: 10 });
        assert.deepEqual(listed.entries.map((x) => x.key), ['ttl/b']);
        const reborn = await store.putState({ key: 'ttl/a', value: v, expectedVersion: 0 });
        assert.equal(reborn.version, 1);
        assert.equal(reborn.expireTime, undefined);
      });

      it('lists by prefix with pagination and keys_only', async () => {
        for (const key of ['a/1', 'a/2', 'a/3', 'a/4', 'a_/x', 'b/1', 'a%']) {
          await store.putState({ key, value: { $case: 'structValue', structValue: { key } } });
        }
        const keys: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listState({ prefix: 'a/', limit: 2, afterKey: cursor });
          keys.push(...page.entries.map((e) => e.key));
          assert.ok(page.entries.every((e) => e.value?.$case === 'structValue'));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        assert.deepEqual(keys, ['a/1', 'a/2', 'a/3', 'a/4']);
        const ko = await store.listState({ prefix: 'a_', limit: 10, keysOnly: true });
        assert.deepEqual(ko.entries.map((e) => [e.key, e.version, e.value]), [['a_/x', 1, undefined]]);
        const everything = await store.listState({ prefix: '', limit: 100 });
        assert.equal(everything.entries.length, 7);
      });

      it('lists from any key inside a prefix (after_key need not be a previous page\'s cursor)', async () => {
        for (const key of ['seg/0001', 'seg/0002', 'seg/0010', 'seg/0100', 'seh/0001']) {
          await store.putState({ key, value: { $case: 'structValue', structValue: { key } } });
        }
        const from = await store.listState({ prefix: 'seg/', limit: 10, afterKey: 'seg/0005' });
        assert.deepEqual(from.entries.map((e) => e.key), ['seg/0010', 'seg/0100']);
        const before = await store.listState({ prefix: 'seg/', limit: 10, afterKey: 'a' });
        assert.deepEqual(before.entries.map((e) => e.key), ['seg/0001', 'seg/0002', 'seg/0010', 'seg/0100']);
        const exact = await store.listState({ prefix: 'seg/', limit: 1, afterKey: 'seg/0002' });
        assert.deepEqual(exact.entries.map((e) => e.key), ['seg/0010']);
        assert.ok(exact.nextCursor !== undefined, 'more follow');
      });

      it('deletes with and without expected_version', async () => {
        const v = { $case: 'structValue' as const, structValue: {} };
        await store.putState({ key: 'k', value: v });
        await store.putState({ key: 'k', value: v });
        await rejectsWith(store.deleteState({ key: 'k', expectedVersion: 1 }), ABORTED);
        assert.deepEqual(await store.deleteState({ key: 'k', expectedVersion: 2 }), { deleted: true });
        assert.deepEqual(await store.deleteState({ key: 'k' }), { deleted: false });
        await rejectsWith(store.getState('k'), NOT_FOUND);
        assert.equal((await store.putState({ key: 'k', value: v })).version, 1);
      });
    });

    describe('batch writes', () => {
      const v = (n: number) => ({ $case: 'structValue' as const, structValue: { n } });

      it('applies an atomic batch entirely', async () => {
        const out = await store.batchWrite({
          atomic: true,
          operations: [
            { $case: 'appendMessages', appendMessages: { threadId: 't1', messages: [msg('a')] } },
            { $case: 'appendMessages', appendMessages: { threadId: 't2', messages: [msg('b'), msg('c')], expectedVersion: 0 } },
            { $case: 'putState', putState: { key: 'ckpt', value: v(1) } },
            { $case: 'deleteState', deleteState: { key: 'nothing' } },
          ],
        });
        assert.deepEqual(out.map((o) => o.$case), ['appendMessages', 'appendMessages', 'putState', 'deleteState']);
        assert.equal((await store.getThread('t2')).version, 2);
        assert.equal((await store.getState('ckpt')).version, 1);
      });

      it('rolls back an atomic batch when one operation fails', async () => {
        await store.putState({ key: 'ckpt', value: v(1) });
        const e = await rejectsWith(
          store.batchWrite({
            atomic: true,
            operations: [
              { $case: 'appendMessages', appendMessages: { threadId: 't1', messages: [msg('a')], requestId: 'atomic-req' } },
              { $case: 'putState', putState: { key: 'other', value: v(2) } },
              { $case: 'putState', putState: { key: 'ckpt', value: v(3), expectedVersion: 7 } },
            ],
          }),
          ABORTED,
        );
        assert.equal(e.metadata?.operationIndex, '2');
        await rejectsWith(store.getThread('t1'), NOT_FOUND);
        await rejectsWith(store.getState('other'), NOT_FOUND);
        assert.equal((await store.getState('ckpt')).version, 1);
        // The rolled-back request id is free to succeed later.
        const ok = await store.appendMessages({ threadId: 't1', messages: [msg('a')], requestId: 'atomic-req' });
        assert.equal(ok.replayed, false);
      });

      it('reports each failure in place in a non-atomic batch', async () => {
        await store.appendMessages({ threadId: 't', messages: [msg('a')] });
        const out = await store.batchWrite({
          atomic: false,
          operations: [
            { $case: 'appendMessages', appendMessages: { threadId: 't', messages: [msg('stale')], expectedVersion: 0 } },
            { $case: 'appendMessages', appendMessages: { threadId: 't', messages: [msg('b')], expectedVersion: 1 } },
            { $case: 'putState', putState: { key: 'k', value: v(1), expectedVersion: 3 } },
            { $case: 'putState', putState: { key: 'k2', value: v(1) } },
          ],
        });
        assert.deepEqual(out.map((o) => o.$case), ['error', 'appendMessages', 'error', 'putState']);
        assert.equal(out[0].$case === 'error' && (out[0].error as ErrorLike).code, ABORTED);
        assert.equal((await store.getThread('t')).version, 2);
        const listed = await store.listMessages({ threadId: 't', limit: 10, newestFirst: false });
        assert.deepEqual(listed.messages.map((m) => m.content), ['a', 'b']);
        await rejectsWith(store.getState('k'), NOT_FOUND);
        assert.equal((await store.getState('k2')).version, 1);
      });

      it('replays appends inside a retried batch', async () => {
        const ops = [
          { $case: 'appendMessages' as const, appendMessages: { threadId: 't', messages: [msg('a')], requestId: 'b-1' } },
          { $case: 'putState' as const, putState: { key: 'k', value: v(1), requestId: 'b-2' } },
        ];
        await store.batchWrite({ atomic: true, operations: ops });
        const again = await store.batchWrite({ atomic: true, operations: ops });
        assert.equal(again[0].$case === 'appendMessages' && again[0].appendMessages.replayed, true);
        assert.equal((await store.getThread('t')).version, 1);
        assert.equal((await store.getState('k')).version, 1);
      });

      it('replays a retried batch of compare-and-sets by its request_id instead of conflicting', async () => {
        await store.putState({ key: 'gone', value: v(0) });
        // What the service does with BatchWriteRequest.request_id: one id per operation, derived from it.
        const ops = withBatchRequestIds(
          [
            { $case: 'appendMessages', appendMessages: { threadId: 't', messages: [msg('a')], expectedVersion: 0 } },
            { $case: 'putState', putState: { key: 'k', value: v(1), expectedVersion: 0 } },
            { $case: 'deleteState', deleteState: { key: 'gone', expectedVersion: 1 } },
          ],
          'batch-cas',
        );
        const first = await store.batchWrite({ atomic: true, operations: ops });
        const again = await store.batchWrite({ atomic: true, operations: ops });
        assert.deepEqual(again.map((o) => o.$case), ['appendMessages', 'putState', 'deleteState']);
        assert.equal(again[0].$case === 'appendMessages' && again[0].appendMessages.messages[0]?.id, first[0].$case === 'appendMessages' && first[0].appendMessages.messages[0]?.id);
        assert.equal(again[1].$case === 'putState' && again[1].putState.version, 1);
        assert.equal(again[2].$case === 'deleteState' && again[2].deleteState.deleted, true);
        assert.equal((await store.getThread('t')).version, 1);
        assert.equal((await store.getState('k')).version, 1);
        // Without the id the same batch conflicts.
        await rejectsWith(store.batchWrite({ atomic: true, operations: withBatchRequestIds(ops.map(withoutRequestId), '') }), ABORTED);
      });
    });
  });
}

function withoutRequestId(op: WriteOperation): WriteOperation {
  switch (op.$case) {
    case 'appendMessages':
      return { $case: 'appendMessages', appendMessages: { ...op.appendMessages, requestId: undefined } };
    case 'putState':
      return { $case: 'putState', putState: { ...op.putState, requestId: undefined } };
    case 'deleteState':
      return { $case: 'deleteState', deleteState: { ...op.deleteState, requestId: undefined } };
  }
}
