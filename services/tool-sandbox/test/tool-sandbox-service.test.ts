import assert from 'node:assert/strict';
import { connect, defineService, ElixirError, errors, GrpcCode, startServer, until, type RunningServer } from '@elixirchain/runtime';
import { MemoryServiceDefinition, type StateEntry } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition, ToolState, type InvokeToolResponse } from '@elixirchain/proto/sandbox';
import { startToolSandboxServer, type ToolSandboxServer } from '../src/index.js';
import { toolFixture } from './fixtures/tool-fixture.js';

/** Just enough of the memory service's state RPCs, over real gRPC, to hold the registry. */
async function startFakeMemory(): Promise<{ server: RunningServer; entries: Map<string, StateEntry> }> {
  const entries = new Map<string, StateEntry>();
  const server = await startServer({
    name: 'fake-memory',
    address: '127.0.0.1:0',
    services: [
      defineService(MemoryServiceDefinition, {
        putState: async (req) => {
          const current = entries.get(req.key);
          if (req.expectedVersion !== undefined && (current?.version ?? 0) !== req.expectedVersion) {
            throw errors.aborted('VERSION_CONFLICT', `state ${req.key} is at ${current?.version ?? 0}`);
          }
          const entry: StateEntry = { key: req.key, value: req.value, version: (current?.version ?? 0) + 1, createTime: current?.createTime ?? new Date(), updateTime: new Date() };
          entries.set(req.key, entry);
          return { entry };
        },
        getState: async (req) => {
          const entry = entries.get(req.key);
          if (!entry) throw errors.notFound('state', req.key);
          return { entry };
        },
        listState: async (req) => {
          const keys = [...entries.keys()].filter((k) => k.startsWith(req.prefix) && k > req.pageToken).sort();
          const page = keys.slice(0, req.pageSize || 100);
          return { entries: page.map((k) => entries.get(k)!), nextPageToken: keys.length > page.length ? page.at(-1)! : '' };
        },
        deleteState: async (req) => {
          entries.delete(req.key);
          return {};
        },
      }),
    ],
  });
  return { server, entries };
}

async function drain(stream: AsyncIterable<InvokeToolResponse>): Promise<{ events: InvokeToolResponse[]; error?: ElixirError }> {
  const events: InvokeToolResponse[] = [];
  try {
    for await (const e of stream) events.push(e);
    return { events };
  } catch (error) {
    return { events, error: error as ElixirError };
  }
}

describe('ToolSandboxService over gRPC', function () {
  this.timeout(60_000);
  let memory: { server: RunningServer; entries: Map<string, StateEntry> };
  let sandbox: ToolSandboxServer;
  let client: ReturnType<typeof connect<typeof ToolSandboxServiceDefinition>>;

  before(async () => {
    memory = await startFakeMemory();
    sandbox = await startToolSandboxServer({
      address: '127.0.0.1:0',
      memoryAddress: memory.server.address,
      pool: { workers: 1, maxCallsPerWorker: 2, maxQueue: 1 },
    });
    client = connect(ToolSandboxServiceDefinition, sandbox.address);
  });

  after(async () => {
    client?.close();
    await sandbox?.stop();
    await memory?.server.drain(100);
  });

  it('registers a tool and streams its events with sequence numbers, ending in a result', async () => {
    const { manifest, bundle } = toolFixture('greeter', 'export default async (i, ctx) => { ctx.progress(0.5, "working"); return { hello: i.who }; };');
    const { tool } = await client.registerTool({ manifest, bundle });
    assert.equal(tool?.state, ToolState.TOOL_STATE_ACTIVE);
    const { events, error } = await drain(client.invokeTool({ name: 'greeter', input: { who: 'world' }, callId: 'c-1' }));
    assert.equal(error, undefined);
    assert.deepEqual(events.map((e) => e.event?.$case), ['started', 'progress', 'result']);
    assert.deepEqual(events.map((e) => e.sequence), [1, 2, 3]);
    const result = events[2]!.event as { $case: 'result'; result: { output: unknown; toolVersion: string } };
    assert.deepEqual(result.result.output, { hello: 'world' });
    assert.equal(result.result.toolVersion, 'greeter@1.0.0');
  });

  it('keeps the registry in the memory service: a new sandbox on the same memory serves the tool', async () => {
    assert.ok([...memory.entries.keys()].includes('sandbox/tools/greeter/1.0.0'));
    const bundleKey = [...memory.entries.keys()].find((k) => k.startsWith('sandbox/bundles/greeter/1.0.0/'));
    assert.match(bundleKey ?? '', /^sandbox\/bundles\/greeter\/1\.0\.0\/[0-9a-f]{64}$/);
    assert.equal(memory.entries.get(bundleKey!)?.value?.$case, 'bytesValue');
    const second = await startToolSandboxServer({ address: '127.0.0.1:0', memoryAddress: memory.server.address, pool: { workers: 1 } });
    const other = connect(ToolSandboxServiceDefinition, second.address);
    try {
      const { events } = await drain(other.invokeTool({ name: 'greeter', input: { who: 'again' } }));
      assert.equal(events.at(-1)?.event?.$case, 'result');
    } finally {
      other.close();
      await second.stop();
    }
  });

  it('ends a failed call with an error event and the same status', async () => {
    const { events, error } = await drain(client.invokeTool({ name: 'nope' }));
    assert.equal(error?.code, GrpcCode.NOT_FOUND);
    assert.equal(events.at(-1)?.event?.$case, 'error');
  });

  it('answers RESOURCE_EXHAUSTED with RetryInfo when the pool queue is full', async () => {
    const { manifest, bundle } = toolFixture('slowpoke', 'export default async () => { await new Promise((r) => setTimeout(r, 800)); return 1; };');
    await client.registerTool({ manifest, bundle });
    const calls = Array.from({ length: 5 }, () => drain(client.invokeTool({ name: 'slowpoke' })));
    const results = await Promise.all(calls);
    const exhausted = results.filter((r) => r.error?.code === GrpcCode.RESOURCE_EXHAUSTED);
    assert.ok(exhausted.length >= 1, JSON.stringify(results.map((r) => r.error?.code)));
    assert.ok((exhausted[0]!.error!.retryAfterMs ?? 0) > 0);
    assert.ok(results.filter((r) => !r.error).length >= 3);
  });

  it('gets, lists with pagination, grants, revokes and deletes tools', async () => {
    for (const v of ['1.0.0', '1.1.0', '2.0.0']) {
      const { manifest, bundle } = toolFixture('paged', `export default () => "${v}";`, { version: v, secrets: v === '2.0.0' ? ['TOKEN'] : [] });
      await client.registerTool({ manifest, bundle });
    }
    const newest = await client.getTool({ name: 'paged' });
    assert.equal(newest.tool?.manifest?.version, '2.0.0');
    assert.equal(newest.tool?.state, ToolState.TOOL_STATE_PENDING_GRANT);
    const ranged = await client.getTool({ name: 'paged', version: '~1.0', includeBundle: true });
    assert.equal(ranged.tool?.manifest?.version, '1.0.0');
    assert.match(ranged.bundle.toString(), /1\.0\.0/);
    // Newest ACTIVE matching version serves while 2.0.0 waits for its grant.
    const before = await drain(client.invokeTool({ name: 'paged' }));
    assert.deepEqual((before.events.at(-1)?.event as { result: { output: unknown } }).result.output, '1.1.0');

    const first = await client.listTools({ name: 'paged', allVersions: true, pageSize: 2 });
    assert.deepEqual(first.tools.map((t) => t.manifest?.version), ['2.0.0', '1.1.0']);
    const second = await client.listTools({ name: 'paged', allVersions: true, pageSize: 2, pageToken: first.nextPageToken });
    assert.deepEqual(second.tools.map((t) => t.manifest?.version), ['1.0.0']);
    assert.equal(second.nextPageToken, '');

    const granted = await client.grantTool({ toolName: 'paged', permissions: { networkHosts: [], secrets: ['TOKEN'] } });
    assert.deepEqual(granted.activated.map((t) => t.manifest?.version), ['2.0.0']);
    const grants = await client.listGrants({});
    assert.ok(grants.grants.some((g) => g.toolName === 'paged'));
    await client.revokeGrant({ toolName: 'paged' });
    assert.equal((await client.getTool({ name: 'paged' })).tool?.state, ToolState.TOOL_STATE_PENDING_GRANT);

    assert.equal((await client.deleteTool({ name: 'paged', version: '1.0.0', requestId: 'del-1' })).deletedVersions, 1);
    // A retried delete (same request id) gets the first answer, not NOT_FOUND.
    assert.equal((await client.deleteTool({ name: 'paged', version: '1.0.0', requestId: 'del-1' })).deletedVersions, 1);
    assert.equal((await client.deleteTool({ name: 'paged' })).deletedVersions, 2);
    await assert.rejects(client.getTool({ name: 'paged' }), (e: ElixirError) => e.code === GrpcCode.NOT_FOUND);
  });

  it('names the bad field when a manifest is invalid', async () => {
    const { manifest, bundle } = toolFixture('Bad Name', 'export default () => 1;', { memoryMb: 100_000 });
    await assert.rejects(client.registerTool({ manifest, bundle }), (e: ElixirError) => {
      const fields = e.fieldViolations.map((v) => v.field);
      return e.code === GrpcCode.INVALID_ARGUMENT && fields.includes('manifest.name') && fields.includes('manifest.limits.memory_mb');
    });
  });

  it('caps a call by the client deadline with DEADLINE_EXCEEDED', async () => {
    const { manifest, bundle } = toolFixture('forever', 'export default () => new Promise(() => {});', { timeoutMs: 30_000 });
    await client.registerTool({ manifest, bundle });
    const started = Date.now();
    const { error } = await drain(client.invokeTool({ name: 'forever' }, { timeoutMs: 400 }));
    assert.equal(error?.code, GrpcCode.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 10_000);
  });

  it('aborts the tool and frees its isolate when the client cancels the stream', async () => {
    const { manifest, bundle } = toolFixture('stubborn', 'export default () => new Promise(() => {});', { timeoutMs: 60_000 });
    await client.registerTool({ manifest, bundle });
    const controller = new AbortController();
    const seen: string[] = [];
    const consuming = (async () => {
      for await (const e of client.invokeTool({ name: 'stubborn' }, { signal: controller.signal })) seen.push(e.event?.$case ?? '');
    })().catch((error: ElixirError) => error);
    await until('the call to reach a worker', () => sandbox.sandbox.workers().some((w) => w.load > 0), 10_000);
    controller.abort();
    const error = await consuming;
    assert.equal((error as ElixirError).code, GrpcCode.CANCELLED);
    await until('the isolate to be freed after the cancel', () => !sandbox.sandbox.workers().some((w) => w.load > 0), 10_000);
    assert.deepEqual(seen, ['started']);
  });
});
