import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Role } from '@elixirchain/proto/memory';
import { ElixirError, GrpcCode, errors } from '@elixirchain/runtime';
import { startMemoryServer, type MemoryServer } from '@elixirchain/memory';
import { GrpcMemoryPort } from '../src/ports/grpc-memory-port.js';
import type { MemoryPort } from '../src/ports/memory-port.js';
import { ThreadStore } from '../src/threads/thread-store.js';
import { newThreadRecord } from '../src/threads/thread-record.js';

// Checkpoints of many threads ready at once go to memory as one atomic
// BatchWrite; each still commits whole or not at all, answers with its own
// results, and replays (not repeats) when its batch is retried.
describe('group commit of checkpoints across threads', function () {
  this.timeout(30_000);
  let dataDir: string;
  let memory: MemoryServer;
  let port: GrpcMemoryPort;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'group-commit-test-'));
    memory = await startMemoryServer({ address: '127.0.0.1:0', dataDir });
    port = new GrpcMemoryPort(memory.address);
  });
  after(async () => {
    port.close();
    await memory.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The port, counting BatchWrite calls; `fail` may replace the outcome of a call. */
  function counted(fail?: (call: number, commit: () => ReturnType<MemoryPort['batchWrite']>) => ReturnType<MemoryPort['batchWrite']>) {
    const calls: number[] = [];
    const wrapped: MemoryPort = Object.assign(Object.create(port) as GrpcMemoryPort, {
      batchWrite: (request: Parameters<MemoryPort['batchWrite']>[0]) => {
        calls.push(request.operations?.length ?? 0);
        const commit = () => port.batchWrite(request);
        return fail ? fail(calls.length, commit) : commit();
      },
    });
    return { memory: wrapped, calls };
  }

  const userMessage = (threadId: string, content: string) => ({ id: `${threadId}-u`, threadId, role: Role.ROLE_USER, content });

  it('writes the checkpoints of threads stepping together in one call, each with its own results', async () => {
    const { memory: counting, calls } = counted();
    const store = new ThreadStore(counting);
    const threads = Array.from({ length: 12 }, (_, i) => `together-${i}`);
    const results = await Promise.all(threads.map((id) => store.checkpoint({ record: newThreadRecord(id, 'a'), stateVersion: 0, messages: [userMessage(id, `hello ${id}`)], activeIndex: 'put', indexThread: true })));
    assert.ok(calls.length <= 2, `12 checkpoints in ${calls.length} calls`);
    results.forEach((r, i) => {
      assert.equal(r.stateVersion, 1);
      assert.deepEqual(r.messages.map((m) => [m.threadId, m.content, m.sequence]), [[threads[i], `hello ${threads[i]}`, 1]]);
    });
    for (const id of threads) {
      const loaded = await store.load(id);
      assert.equal(loaded?.record.messageVersion, 1);
      assert.deepEqual((await store.loadHistory(id)).map((m) => m.content), [`hello ${id}`]);
    }
  });

  it('a checkpoint that loses its compare-and-set fails alone; the others of its batch commit', async () => {
    const { memory: counting, calls } = counted();
    const store = new ThreadStore(counting);
    await store.checkpoint({ record: newThreadRecord('taken', 'a'), stateVersion: 0, messages: [userMessage('taken', 'first owner')] });
    calls.length = 0;
    const outcomes = await Promise.allSettled([
      // Expects the record not to exist: another owner wrote it.
      store.checkpoint({ record: newThreadRecord('taken', 'a'), stateVersion: 0, messages: [{ ...userMessage('taken', 'stale owner'), id: 'stale' }] }),
      store.checkpoint({ record: newThreadRecord('free-1', 'a'), stateVersion: 0, messages: [userMessage('free-1', 'one')] }),
      store.checkpoint({ record: newThreadRecord('free-2', 'a'), stateVersion: 0, messages: [userMessage('free-2', 'two')] }),
    ]);
    assert.equal(outcomes[0].status, 'rejected');
    assert.ok(ElixirError.is((outcomes[0] as PromiseRejectedResult).reason, GrpcCode.ABORTED), 'the stale write is ABORTED');
    assert.deepEqual(outcomes.slice(1).map((o) => o.status), ['fulfilled', 'fulfilled']);
    assert.equal(calls[0], 3 * 2, 'the three (a message and a record each) went out as one batch first');
    assert.deepEqual((await store.loadHistory('taken')).map((m) => m.content), ['first owner'], 'nothing of the stale write landed');
    assert.deepEqual((await store.loadHistory('free-1')).map((m) => m.content), ['one']);
    assert.deepEqual((await store.loadHistory('free-2')).map((m) => m.content), ['two']);
  });

  it('a batch that committed but lost its reply is retried whole and replays: every member appended once', async () => {
    const { memory: lossy, calls } = counted(async (call, commit) => {
      const response = await commit();
      if (call === 1) throw errors.unavailable('CONNECTION_DROPPED', 'the reply was lost');
      return response;
    });
    const store = new ThreadStore(lossy, undefined, 10_000);
    const threads = ['lost-1', 'lost-2', 'lost-3'];
    const results = await Promise.all(threads.map((id) => store.checkpoint({ record: newThreadRecord(id, 'a'), stateVersion: 0, messages: [userMessage(id, `once ${id}`)], indexThread: true })));
    assert.equal(calls.length, 2, 'one batch, sent twice');
    assert.equal(calls[0], calls[1]);
    results.forEach((r, i) => {
      assert.equal(r.stateVersion, 1);
      assert.deepEqual(r.messages.map((m) => m.content), [`once ${threads[i]}`]);
    });
    for (const id of threads) assert.deepEqual((await store.loadHistory(id)).map((m) => m.content), [`once ${id}`], `${id} appended once`);
  });
});
