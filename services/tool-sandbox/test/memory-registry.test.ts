import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ElixirError, GrpcCode, until } from '@elixirchain/runtime';
import { ToolState } from '@elixirchain/proto/sandbox';
import { startMemoryServer, type MemoryServer } from '@elixirchain/memory';
import { createSandbox, MemoryServiceToolStore } from '../src/index.js';
import { toolFixture } from './fixtures/tool-fixture.js';

describe('tool registry kept in the real memory service', function () {
  this.timeout(60_000);
  let dir: string;
  let memory: MemoryServer;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sandbox-registry-'));
    memory = await startMemoryServer({ address: '127.0.0.1:0', dataDir: dir, storeConfig: { url: 'sqlite' } });
  });

  after(async () => {
    await memory?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives a sandbox restart: versions, bundles and grants come back from memory', async () => {
    const first = await createSandbox({ store: new MemoryServiceToolStore(memory.address), pool: { workers: 1 }, secrets: { TOKEN: 'tok-123456' } });
    try {
      const v1 = toolFixture('durable', 'export default (i, ctx) => "v1:" + ctx.secrets.get("TOKEN").length;', { version: '1.0.0', secrets: ['TOKEN'] });
      const v2 = toolFixture('durable', 'export default () => "v2";', { version: '2.0.0' });
      assert.equal((await first.register(v1.manifest, v1.bundle)).state, ToolState.TOOL_STATE_PENDING_GRANT);
      await first.register(v2.manifest, v2.bundle);
      await first.grant('durable', { secrets: ['TOKEN'] });
      const other = toolFixture('durable', 'export default () => "tampered";', { version: '2.0.0' });
      await assert.rejects(first.register(other.manifest, other.bundle), (e: ElixirError) => e.code === GrpcCode.ALREADY_EXISTS);
    } finally {
      await first.stop();
    }

    const second = await createSandbox({ store: new MemoryServiceToolStore(memory.address), pool: { workers: 1 }, secrets: { TOKEN: 'tok-123456' } });
    try {
      assert.equal((await second.call({ name: 'durable' })).output, 'v2');
      assert.equal((await second.call({ name: 'durable', version: '^1' })).output, 'v1:10');
      assert.equal(second.catalog.find('durable', '1.0.0') && second.catalog.stateOf(second.catalog.find('durable', '1.0.0')!), ToolState.TOOL_STATE_ACTIVE);
      assert.equal(await second.catalog.delete('durable', ''), 2);
    } finally {
      await second.stop();
    }

    const third = await createSandbox({ store: new MemoryServiceToolStore(memory.address), pool: { workers: 1 } });
    try {
      await assert.rejects(third.call({ name: 'durable' }), (e: ElixirError) => e.code === GrpcCode.NOT_FOUND);
    } finally {
      await third.stop();
    }
  });

  it('lets replicas see each other: registrations at once, revokes and deletes within a refresh', async () => {
    const a = await createSandbox({ store: new MemoryServiceToolStore(memory.address), pool: { workers: 1 }, secrets: { KEY: 'key-abcdef' }, refreshIntervalMs: 200 });
    const b = await createSandbox({ store: new MemoryServiceToolStore(memory.address), pool: { workers: 1 }, secrets: { KEY: 'key-abcdef' }, refreshIntervalMs: 200 });
    try {
      const tool = toolFixture('shared', 'export default (i, ctx) => ctx.secrets.get("KEY").length;', { secrets: ['KEY'] });
      await a.register(tool.manifest, tool.bundle, { grantPermissions: true });
      assert.equal((await b.call({ name: 'shared' })).output, 10);

      await a.catalog.revoke('shared', undefined);
      await until('replica b to see the revoke', async () => (await b.call({ name: 'shared' }).catch((e: ElixirError) => e)) instanceof ElixirError, 10_000);
      await assert.rejects(b.call({ name: 'shared' }), (e: ElixirError) => e.code === GrpcCode.FAILED_PRECONDITION);

      await a.catalog.delete('shared', '');
      await until('replica b to see the delete', async () => b.catalog.find('shared', '') === undefined, 10_000);
      await assert.rejects(b.call({ name: 'shared' }), (e: ElixirError) => e.code === GrpcCode.NOT_FOUND);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
