import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMemoryServer, type MemoryServer } from '@elixirchain/memory';
import { GroupCommitWriter } from '../src/storage/group-commit-writer.js';
import { MemoryStateStore } from '../src/storage/memory-state-store.js';
import { VersionConflictError } from '../src/storage/state-store.js';

// Memory killed and restarted under a running chain: checkpoints wait the
// outage out instead of stopping the run until the next start.
describe('run checkpoints through an outage of memory', function () {
  this.timeout(60_000);
  let dataDir: string;
  let memory: MemoryServer;
  let store: MemoryStateStore;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chain-outage-'));
    memory = await startMemoryServer({ address: '127.0.0.1:0', dataDir });
    store = new MemoryStateStore(memory.address);
  });
  after(async () => {
    store?.close();
    await memory?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a checkpoint written while memory is down becomes durable once memory is back', async () => {
    const writer = new GroupCommitWriter(store);
    await writer.write([{ op: 'put', key: 'runs/outage/record', value: { step: 1 } }]);
    const address = memory.address;
    await memory.stop();
    let settled: string | undefined;
    const during = writer.write([{ op: 'put', key: 'runs/outage/record', value: { step: 2 } }]).then(
      () => (settled = 'durable'),
      (error: Error) => (settled = `failed: ${error.message}`),
    );
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(settled, undefined, 'still waiting for memory, not failed');
    memory = await startMemoryServer({ address, dataDir });
    await during;
    assert.equal(settled, 'durable');
    assert.deepEqual((await store.get('runs/outage/record'))?.value, { step: 2 });
  });

  it('gives up past its outage budget, and never retries a compare-and-set conflict', async () => {
    const unreachable = new MemoryStateStore('127.0.0.1:1');
    try {
      const started = Date.now();
      await assert.rejects(new GroupCommitWriter(unreachable, 2_000, 1_500).write([{ op: 'put', key: 'k', value: 1 }]), (e: any) => e.code === 14);
      assert.ok(Date.now() - started >= 500, 'retried for a while first');
    } finally {
      unreachable.close();
    }
    await assert.rejects(new GroupCommitWriter(store).write([{ op: 'put', key: 'runs/outage/record', value: {}, expectedVersion: 0 }]), VersionConflictError);
  });
});
