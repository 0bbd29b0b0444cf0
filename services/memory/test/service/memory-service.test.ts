import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, ElixirError, GrpcCode, type ServiceClient } from '@elixirchain/runtime';
import { MemoryServiceDefinition, Role } from '@elixirchain/proto/memory';
import { startMemoryServer, type MemoryServer } from '../../src/index.js';

type Client = ServiceClient<typeof MemoryServiceDefinition>;

async function rejection(promise: Promise<unknown>): Promise<ElixirError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ElixirError, `expected an ElixirError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

async function expectInvalid(promise: Promise<unknown>, field: string): Promise<ElixirError> {
  const e = await rejection(promise);
  assert.equal(e.codeName, 'INVALID_ARGUMENT', `${e.codeName}: ${e.message}`);
  assert.ok(
    e.fieldViolations.some((v) => v.field === field),
    `expected a violation on ${field}, got ${JSON.stringify(e.fieldViolations)}`,
  );
  return e;
}

const user = (content: string) => ({ role: Role.ROLE_USER, content });

describe('MemoryService over gRPC', function () {
  this.timeout(30_000);
  let dir: string;
  let server: MemoryServer;
  let memory: Client;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'memory-service-'));
    server = await startMemoryServer({ address: '127.0.0.1:0', dataDir: dir, embedders: { openai: false } });
    memory = connect(MemoryServiceDefinition, server.address);
  });
  after(async () => {
    memory?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('threads', () => {
    it('appends, pages both ways with opaque tokens, and reports the thread', async () => {
      const res = await memory.appendMessages({ threadId: 'svc-t1', messages: [1, 2, 3, 4, 5].map((i) => user(`m${i}`)), expectedVersion: 0 });
      assert.equal(res.thread?.version, 5);
      assert.deepEqual(res.messages.map((m) => m.sequence), [1, 2, 3, 4, 5]);
      const seen: string[] = [];
      let pageToken = '';
      do {
        const page = await memory.listMessages({ threadId: 'svc-t1', pageSize: 2, newestFirst: true, pageToken });
        seen.push(...page.messages.map((m) => m.content));
        pageToken = page.nextPageToken;
      } while (pageToken);
      assert.deepEqual(seen, ['m5', 'm4', 'm3', 'm2', 'm1']);
      const tail = await memory.listMessages({ threadId: 'svc-t1', afterSequence: 3 });
      assert.deepEqual(tail.messages.map((m) => m.content), ['m4', 'm5']);
      assert.equal((await memory.getThread({ threadId: 'svc-t1' })).thread?.version, 5);
      const threads = await memory.listThreads({ prefix: 'svc-' });
      assert.ok(threads.threads.some((t) => t.id === 'svc-t1'));
    });

    it('answers a stale expected_version with ABORTED and the current version', async () => {
      await memory.appendMessages({ threadId: 'svc-cas', messages: [user('a')] });
      const e = await rejection(memory.appendMessages({ threadId: 'svc-cas', messages: [user('b')], expectedVersion: 0 }));
      assert.equal(e.code, GrpcCode.ABORTED);
      assert.equal(e.reason, 'VERSION_CONFLICT');
      assert.equal(e.metadata.currentVersion, '1');
    });

    it('lets exactly one of two concurrent writers with the same expected_version win', async () => {
      await memory.appendMessages({ threadId: 'svc-race', messages: [user('seed')] });
      const second = connect(MemoryServiceDefinition, server.address);
      try {
        for (let round = 0; round < 5; round++) {
          const version = 1 + round;
          const outcomes = await Promise.allSettled([
            memory.appendMessages({ threadId: 'svc-race', messages: [user(`a${round}`)], expectedVersion: version }),
            second.appendMessages({ threadId: 'svc-race', messages: [user(`b${round}`)], expectedVersion: version }),
          ]);
          const won = outcomes.filter((o) => o.status === 'fulfilled').length;
          assert.equal(won, 1, `round ${round}`);
          const lost = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
          assert.equal((lost?.reason as ElixirError).code, GrpcCode.ABORTED);
        }
        assert.equal((await memory.getThread({ threadId: 'svc-race' })).thread?.version, 6);
      } finally {
        second.close();
      }
    });

    it('replays a retried request_id instead of appending twice', async () => {
      const req = { threadId: 'svc-idem', messages: [user('once')], requestId: 'req-svc-1' };
      const first = await memory.appendMessages(req);
      const retry = await memory.appendMessages(req);
      assert.equal(retry.replayed, true);
      assert.equal(retry.messages[0].id, first.messages[0].id);
      assert.equal((await memory.getThread({ threadId: 'svc-idem' })).thread?.version, 1);
    });

    it('refuses bad input with INVALID_ARGUMENT naming each field', async () => {
      await expectInvalid(memory.appendMessages({ threadId: '', messages: [user('x')] }), 'thread_id');
      await expectInvalid(memory.appendMessages({ threadId: 't', messages: [] }), 'messages');
      await expectInvalid(memory.appendMessages({ threadId: 't', messages: [{ content: 'no role' }] }), 'messages[0].role');
      await expectInvalid(memory.appendMessages({ threadId: 't', messages: [{ role: 42 as Role, content: 'x' }] }), 'messages[0].role');
      await expectInvalid(memory.appendMessages({ threadId: 't\u0000x', messages: [user('x')] }), 'thread_id');
      await expectInvalid(memory.appendMessages({ threadId: 't', messages: [user('x')], expectedVersion: -1 }), 'expected_version');
      const big = await expectInvalid(
        memory.appendMessages({ threadId: 't', messages: [user('x'.repeat(1024 * 1024 + 1))] }),
        'messages[0].content',
      );
      assert.match(big.message, /1048576 bytes/);
      await expectInvalid(memory.listMessages({ threadId: 'svc-t1', pageSize: -1 }), 'page_size');
      await expectInvalid(memory.listMessages({ threadId: 'svc-t1', pageToken: 'garbage!' }), 'page_token');
      await expectInvalid(memory.listMessages({ threadId: 'svc-t1', pageToken: 'eyJ2IjoxfQ' }), 'page_token');
      const page = await memory.listMessages({ threadId: 'svc-t1', pageSize: 1 });
      // A token is bound to its query: reusing it for another thread is refused.
      const foreign = await expectInvalid(memory.listMessages({ threadId: 'svc-idem', pageToken: page.nextPageToken }), 'page_token');
      assert.equal(foreign.reason, 'INVALID_PAGE_TOKEN');
    });

    it('answers NOT_FOUND for unknown threads and deletes with a cascade', async () => {
      const e = await rejection(memory.getThread({ threadId: 'svc-nope' }));
      assert.equal(e.code, GrpcCode.NOT_FOUND);
      assert.equal(e.reason, 'THREAD_NOT_FOUND');
      await memory.appendMessages({ threadId: 'svc-del', messages: [user('a')] });
      assert.equal((await memory.deleteThread({ threadId: 'svc-del' })).deleted, true);
      assert.equal((await rejection(memory.listMessages({ threadId: 'svc-del' }))).code, GrpcCode.NOT_FOUND);
    });
  });

  describe('memories', () => {
    it('embeds text offline, records the embedder, and finds lexical matches with a filter', async () => {
      const res = await memory.upsertMemories({
        namespace: 'svc-notes',
        memories: [
          { id: 'pg', text: 'PostgreSQL vacuum tuning for large tables', metadata: { kind: 'db', year: 2024 } },
          { id: 'cake', text: 'Chocolate cake with raspberry filling', metadata: { kind: 'food', year: 2023 } },
          { id: 'sqlite', text: 'SQLite WAL mode and vacuum', metadata: { kind: 'db', year: 2021 } },
        ],
      });
      assert.equal(res.namespace?.embedder, 'hashed-ngram-v1');
      assert.equal(res.namespace?.dimensions, 384);
      assert.equal(res.namespace?.memoryCount, 3);
      const hits = await memory.searchMemories({ namespace: 'svc-notes', queryText: 'vacuum tables', topK: 2 });
      assert.equal(hits.results[0].memory?.id, 'pg');
      assert.ok(hits.results[0].score > hits.results[1].score);
      const filtered = await memory.searchMemories({
        namespace: 'svc-notes',
        queryText: 'vacuum',
        filter: { all: [{ field: 'year', condition: { $case: 'range', range: { lt: 2022 } } }] },
      });
      assert.deepEqual(filtered.results.map((r) => r.memory?.id), ['sqlite']);
      assert.deepEqual(filtered.results[0].memory?.vector, []);
      const got = await memory.getMemory({ namespace: 'svc-notes', id: 'cake', includeVector: true });
      assert.equal(got.memory?.vector.length, 384);
    });

    it('refuses vectors of the wrong size and malformed searches', async () => {
      const e = await rejection(
        memory.upsertMemories({ namespace: 'svc-notes', memories: [{ id: 'v', text: 'v', vector: [1, 2, 3] }] }),
      );
      assert.equal(e.code, GrpcCode.INVALID_ARGUMENT);
      assert.equal(e.reason, 'DIMENSION_MISMATCH');
      assert.equal(e.fieldViolations[0].field, 'memories[0].vector');
      await expectInvalid(memory.searchMemories({ namespace: 'svc-notes' }), 'query_text');
      await expectInvalid(memory.searchMemories({ namespace: 'svc-notes', queryText: 'a', queryVector: [1] }), 'query_text');
      await expectInvalid(memory.searchMemories({ namespace: 'svc-notes', queryText: 'a', topK: -3 }), 'top_k');
      await expectInvalid(memory.searchMemories({ namespace: 'svc-notes', queryText: 'a', minScore: 2 }), 'min_score');
      await expectInvalid(
        memory.searchMemories({ namespace: 'svc-notes', queryText: 'a', filter: { all: [{ field: 'a..b', condition: { $case: 'exists', exists: true } }] } }),
        'filter.all[0].field',
      );
      await expectInvalid(memory.upsertMemories({ namespace: 'svc-notes', memories: [{ id: 'x', text: '   ' }] }), 'memories[0].text');
      await expectInvalid(
        memory.upsertMemories({ namespace: 'svc-notes', memories: [{ id: 'x', text: 'a' }, { id: 'x', text: 'b' }] }),
        'memories[1].id',
      );
      await expectInvalid(
        memory.upsertMemories({ namespace: 'svc-notes', memories: Array.from({ length: 5001 }, (_, i) => ({ id: `m${i}`, text: 't' })) }),
        'memories',
      );
      const missing = await rejection(memory.searchMemories({ namespace: 'svc-none', queryText: 'x' }));
      assert.equal(missing.code, GrpcCode.NOT_FOUND);
      assert.equal(missing.reason, 'NAMESPACE_NOT_FOUND');
    });

    it('keeps caller-supplied-vector namespaces free of text queries', async () => {
      const res = await memory.upsertMemories({ namespace: 'svc-vec', memories: [{ id: 'a', text: 'a', vector: [1, 0, 0] }] });
      assert.equal(res.namespace?.embedder, 'caller-supplied');
      assert.equal(res.namespace?.dimensions, 3);
      await expectInvalid(memory.searchMemories({ namespace: 'svc-vec', queryText: 'a' }), 'query_text');
      const hit = await memory.searchMemories({ namespace: 'svc-vec', queryVector: [1, 0.1, 0] });
      assert.equal(hit.results[0].memory?.id, 'a');
    });

    it('pages memories and namespaces, and deletes a namespace with its memories', async () => {
      await memory.upsertMemories({ namespace: 'svc-page', memories: Array.from({ length: 5 }, (_, i) => ({ id: `p${i}`, text: `page ${i}` })) });
      const ids: string[] = [];
      let pageToken = '';
      do {
        const page = await memory.listMemories({ namespace: 'svc-page', pageSize: 2, pageToken });
        ids.push(...page.memories.map((m) => m.id));
        pageToken = page.nextPageToken;
      } while (pageToken);
      assert.deepEqual(ids, ['p0', 'p1', 'p2', 'p3', 'p4']);
      const names = (await memory.listNamespaces({})).namespaces.map((n) => n.name);
      assert.ok(names.includes('svc-page'));
      const del = await memory.deleteNamespace({ namespace: 'svc-page' });
      assert.deepEqual({ deleted: del.deleted, n: del.deletedMemories }, { deleted: true, n: 5 });
      assert.equal((await rejection(memory.getMemory({ namespace: 'svc-page', id: 'p0' }))).code, GrpcCode.NOT_FOUND);
    });
  });

  describe('state and batches', () => {
    it('puts, compares and sets, lists by prefix and expires by ttl', async () => {
      const a = await memory.putState({ key: 'svc/a', value: { $case: 'structValue', structValue: { step: 1 } } });
      assert.equal(a.entry?.version, 1);
      const conflict = await rejection(memory.putState({ key: 'svc/a', value: { $case: 'structValue', structValue: {} }, expectedVersion: 0 }));
      assert.equal(conflict.code, GrpcCode.ABORTED);
      assert.equal(conflict.metadata.currentVersion, '1');
      await memory.putState({ key: 'svc/b', value: { $case: 'bytesValue', bytesValue: Buffer.from('raw') }, ttl: { seconds: 0, nanos: 200_000_000 } });
      const listed = await memory.listState({ prefix: 'svc/', keysOnly: true });
      assert.deepEqual(listed.entries.map((e) => e.key), ['svc/a', 'svc/b']);
      assert.equal(listed.entries[0].value, undefined);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await rejection(memory.getState({ key: 'svc/b' }))).code, GrpcCode.NOT_FOUND);
      await expectInvalid(memory.putState({ key: 'svc/c' }), 'value');
      await expectInvalid(memory.putState({ key: 'svc/c', value: { $case: 'structValue', structValue: {} }, ttl: { seconds: -5, nanos: 0 } }), 'ttl');
    });

    it('lists state from start_after within a prefix, pages on from there, and refuses a token of another start_after', async () => {
      for (const n of [1, 2, 3, 4, 5]) await memory.putState({ key: `svc-after/${String(n).padStart(4, '0')}`, value: { $case: 'structValue', structValue: { n } } });
      const first = await memory.listState({ prefix: 'svc-after/', startAfter: 'svc-after/0002', pageSize: 2 });
      assert.deepEqual(first.entries.map((e) => e.key), ['svc-after/0003', 'svc-after/0004']);
      const second = await memory.listState({ prefix: 'svc-after/', startAfter: 'svc-after/0002', pageSize: 2, pageToken: first.nextPageToken });
      assert.deepEqual(second.entries.map((e) => e.key), ['svc-after/0005']);
      assert.equal(second.nextPageToken, '');
      // Before the prefix: the whole prefix; past it: nothing.
      assert.equal((await memory.listState({ prefix: 'svc-after/', startAfter: 'a' })).entries.length, 5);
      assert.equal((await memory.listState({ prefix: 'svc-after/', startAfter: 'svc-after/9' })).entries.length, 0);
      const other = await rejection(memory.listState({ prefix: 'svc-after/', startAfter: 'svc-after/0001', pageSize: 2, pageToken: first.nextPageToken }));
      assert.equal(other.codeName, 'INVALID_ARGUMENT');
      await expectInvalid(memory.listState({ prefix: 'svc-after/', startAfter: 'bad\u0001key' }), 'start_after');
    });

    it('reports non-atomic failures in place and rolls back atomic batches', async () => {
      const res = await memory.batchWrite({
        atomic: false,
        operations: [
          { operation: { $case: 'appendMessages', appendMessages: { threadId: 'svc-batch', messages: [user('x')] } } },
          { operation: { $case: 'putState', putState: { key: 'svc/batch', value: { $case: 'structValue', structValue: {} }, expectedVersion: 9 } } },
        ],
      });
      assert.equal(res.results[0].result?.$case, 'appendMessages');
      const failed = res.results[1].result;
      assert.equal(failed?.$case, 'error');
      assert.equal(failed?.$case === 'error' && failed.error.code, GrpcCode.ABORTED);
      const e = await rejection(
        memory.batchWrite({
          atomic: true,
          operations: [
            { operation: { $case: 'appendMessages', appendMessages: { threadId: 'svc-batch', messages: [user('y')] } } },
            { operation: { $case: 'deleteState', deleteState: { key: 'svc/a', expectedVersion: 5 } } },
          ],
        }),
      );
      assert.equal(e.code, GrpcCode.ABORTED);
      assert.equal(e.metadata.operationIndex, '1');
      assert.equal((await memory.getThread({ threadId: 'svc-batch' })).thread?.version, 1);
      await expectInvalid(memory.batchWrite({ operations: [{}] }), 'operations[0]');
      await expectInvalid(
        memory.batchWrite({ operations: [{ operation: { $case: 'appendMessages', appendMessages: { threadId: '', messages: [user('x')] } } }] }),
        'operations[0].append_messages.thread_id',
      );
    });

    it('omits put_state values from the results when asked (omit_state_values), keeping key and version', async () => {
      const put = (key: string) => ({ operation: { $case: 'putState' as const, putState: { key, value: { $case: 'bytesValue' as const, bytesValue: Buffer.from('{"big":true}') } } } });
      const lean = await memory.batchWrite({ atomic: true, omitStateValues: true, operations: [put('svc/omit-a'), put('svc/omit-b')] });
      const entries = lean.results.map((r) => (r.result?.$case === 'putState' ? r.result.putState.entry : undefined));
      assert.deepEqual(entries.map((e) => [e?.key, e?.version, e?.value]), [['svc/omit-a', 1, undefined], ['svc/omit-b', 1, undefined]]);
      assert.equal((await memory.getState({ key: 'svc/omit-a' })).entry?.value?.$case, 'bytesValue', 'the value was stored');
      const full = await memory.batchWrite({ atomic: true, operations: [put('svc/omit-a')] });
      const echoed = full.results[0].result?.$case === 'putState' ? full.results[0].result.putState.entry : undefined;
      assert.equal(echoed?.version, 2);
      assert.equal(echoed?.value?.$case === 'bytesValue' && Buffer.from(echoed.value.bytesValue).toString(), '{"big":true}');
    });

    it('replays a batch retried with the same request_id instead of failing its compare-and-set', async () => {
      const batch = {
        atomic: true,
        requestId: 'svc-batch-retry-1',
        operations: [
          { operation: { $case: 'appendMessages' as const, appendMessages: { threadId: 'svc-batch-retry', messages: [user('once')], expectedVersion: 0 } } },
          { operation: { $case: 'putState' as const, putState: { key: 'svc/batch-retry', value: { $case: 'structValue' as const, structValue: { n: 1 } }, expectedVersion: 0 } } },
          { operation: { $case: 'deleteState' as const, deleteState: { key: 'svc/batch-retry-gone' } } },
        ],
      };
      const first = await memory.batchWrite(batch);
      // The first attempt committed but its reply was lost: the retry gets the same outcome.
      const again = await memory.batchWrite(batch);
      assert.deepEqual(again.results.map((r) => r.result?.$case), ['appendMessages', 'putState', 'deleteState']);
      const messagesOf = (r: typeof first) => (r.results[0].result?.$case === 'appendMessages' ? r.results[0].result.appendMessages.messages.map((m) => [m.id, m.sequence]) : []);
      assert.deepEqual(messagesOf(again), messagesOf(first));
      assert.equal(again.results[1].result?.$case === 'putState' && again.results[1].result.putState.entry?.version, 1);
      assert.equal((await memory.getThread({ threadId: 'svc-batch-retry' })).thread?.version, 1, 'appended once');
      assert.equal((await memory.getState({ key: 'svc/batch-retry' })).entry?.version, 1, 'written once');
      // Another batch (another request_id) with the same stale expectations still fails.
      const stale = await rejection(memory.batchWrite({ ...batch, requestId: 'svc-batch-retry-2' }));
      assert.equal(stale.code, GrpcCode.ABORTED);
    });

    it('counts cache hits for hot threads', async () => {
      const before = server.stats().cache?.hits ?? 0;
      await memory.listMessages({ threadId: 'svc-t1' });
      await memory.listMessages({ threadId: 'svc-t1' });
      assert.ok((server.stats().cache?.hits ?? 0) > before);
      assert.equal(server.stats().store, 'sqlite');
    });
  });
});
