import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, spawnService, type SpawnedService } from '@elixirchain/runtime';
import { MemoryServiceDefinition, Role } from '@elixirchain/proto/memory';

const entry = path.resolve(import.meta.dirname, '../../src/main.ts');

describe('memory process killed with SIGKILL during appends', function () {
  this.timeout(120_000);
  let dir: string;
  let child: SpawnedService | undefined;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'memory-crash-'));
  });
  after(async () => {
    await child?.kill().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () =>
    spawnService({
      entry,
      env: { ELIXIRCHAIN_MEMORY_ADDR: '127.0.0.1:0', ELIXIRCHAIN_DATA_DIR: dir, ELIXIRCHAIN_SPAWN_LOG_LEVEL: 'warn' },
      readyTimeoutMs: 60_000,
    });

  it('keeps every acknowledged append exactly once, and a retry of an unacknowledged one lands once', async () => {
    child = await start();
    let memory = connect(MemoryServiceDefinition, child.address);
    const writers = 4;
    const acked = new Map<string, string>(); // request id -> content
    const attempted: Array<{ threadId: string; requestId: string; content: string }> = [];
    let killed = false;

    const writer = async (w: number) => {
      const threadId = `crash-${w}`;
      for (let i = 0; !killed; i++) {
        const requestId = `w${w}-${i}`;
        const content = `writer ${w} message ${i}`;
        attempted.push({ threadId, requestId, content });
        try {
          await memory.appendMessages(
            { threadId, requestId, messages: [{ role: Role.ROLE_USER, content }] },
            { timeoutMs: 5000 },
          );
          acked.set(requestId, content); // acknowledged: it must survive the kill
        } catch {
          return; // the process is gone
        }
      }
    };
    const running = Array.from({ length: writers }, (_, w) => writer(w));
    // Let a stream of appends build up, then kill -9 mid-stream.
    const deadline = Date.now() + 30_000;
    while (acked.size < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    killed = true;
    await child.kill();
    await Promise.all(running);
    memory.close();
    assert.ok(acked.size >= 50, `only ${acked.size} appends were acknowledged before the kill`);

    child = await start();
    memory = connect(MemoryServiceDefinition, child.address);
    try {
      const stored = new Map<string, number>(); // content -> occurrences
      for (let w = 0; w < writers; w++) {
        let pageToken = '';
        let expectedSequence = 1;
        do {
          const page = await memory.listMessages({ threadId: `crash-${w}`, pageSize: 1000, pageToken });
          for (const m of page.messages) {
            assert.equal(m.sequence, expectedSequence++, 'sequences have no gaps');
            stored.set(m.content, (stored.get(m.content) ?? 0) + 1);
          }
          pageToken = page.nextPageToken;
        } while (pageToken);
      }
      for (const content of acked.values()) assert.equal(stored.get(content), 1, `acknowledged "${content}" is stored once`);
      for (const [content, n] of stored) assert.equal(n, 1, `"${content}" is stored once`);

      // Retrying every attempt (as a client that lost its connection would) writes nothing twice.
      for (const a of attempted) {
        const res = await memory.appendMessages({ threadId: a.threadId, requestId: a.requestId, messages: [{ role: Role.ROLE_USER, content: a.content }] });
        assert.equal(res.replayed, stored.has(a.content), `retry of ${a.requestId}`);
      }
      let total = 0;
      for (let w = 0; w < writers; w++) total += (await memory.getThread({ threadId: `crash-${w}` })).thread?.version ?? 0;
      assert.equal(total, attempted.length);
    } finally {
      memory.close();
      await child.stop();
      child = undefined;
    }
  });
});
