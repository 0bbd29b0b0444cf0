import assert from 'node:assert/strict';
import { ElixirError, GrpcCode } from '@elixirchain/runtime';
import { createSandbox, SHARED_TENANT, type ToolSandbox } from '@elixirchain/tool-sandbox';
import { toolFixture } from '../../services/tool-sandbox/test/fixtures/tool-fixture.js';

/**
 * Context reuse (manifest.context_reuse) is an opt-in: a warm context may
 * serve several calls, and its globals persist between them. These cases
 * show where it stops: never across tenants, versions or grants (secret
 * values included), never after a failure, never past its bounds, and never
 * for a tool that did not opt in. One worker, so a context that could be
 * reused would be.
 */

/** Counts its calls in a global and remembers the first caller's mark. */
const COUNTER = `export default (input, ctx) => {
  globalThis.calls = (globalThis.calls || 0) + 1;
  if (globalThis.mark === undefined) globalThis.mark = input.mark;
  if (input.fail) throw new Error('asked to fail');
  return { calls: globalThis.calls, mark: globalThis.mark };
};`;

describe('sandbox context reuse (opt-in) keeps its boundaries', function () {
  this.timeout(60_000);
  let sandbox: ToolSandbox;

  before(async () => {
    sandbox = await createSandbox({ pool: { workers: 1 }, secrets: { API_TOKEN: 'token-one' } });
  });
  after(async () => {
    await sandbox?.stop();
  });

  const run = async (name: string, input: Record<string, unknown>, extra: { tenant?: string; version?: string; grants?: { secrets?: string[] } } = {}) =>
    (await sandbox.call({ name, input, ...extra })).output as { calls: number; mark: string };

  it('reuses a context for the same tool version and tenant (globals persist), and never without the opt-in', async () => {
    await sandbox.register(toolFixture('reuse-same', COUNTER, { contextReuse: { maxCalls: 100 } }).manifest, toolFixture('reuse-same', COUNTER, { contextReuse: { maxCalls: 100 } }).bundle);
    assert.deepEqual(await run('reuse-same', { mark: 'a' }), { calls: 1, mark: 'a' });
    assert.deepEqual(await run('reuse-same', { mark: 'b' }), { calls: 2, mark: 'a' });
    const plain = toolFixture('reuse-none', COUNTER);
    await sandbox.register(plain.manifest, plain.bundle);
    for (let i = 0; i < 3; i++) assert.deepEqual(await run('reuse-none', { mark: `m${i}` }), { calls: 1, mark: `m${i}` });
  });

  it("never shows one tenant's globals to another tenant of the same shared tool", async () => {
    const t = toolFixture('reuse-shared', COUNTER, { contextReuse: { maxCalls: 100 } });
    await sandbox.register(t.manifest, t.bundle, { tenant: SHARED_TENANT });
    assert.deepEqual(await run('reuse-shared', { mark: 'acme-secret' }, { tenant: 'acme' }), { calls: 1, mark: 'acme-secret' });
    assert.deepEqual(await run('reuse-shared', { mark: 'x' }, { tenant: 'acme' }), { calls: 2, mark: 'acme-secret' });
    assert.deepEqual(await run('reuse-shared', { mark: 'globex' }, { tenant: 'globex' }), { calls: 1, mark: 'globex' });
    assert.deepEqual(await run('reuse-shared', { mark: 'y' }, { tenant: 'acme' }), { calls: 3, mark: 'acme-secret' });
  });

  it('gives another version of the tool a fresh context', async () => {
    const v1 = toolFixture('reuse-versions', COUNTER, { contextReuse: { maxCalls: 100 } });
    const v2 = toolFixture('reuse-versions', `${COUNTER}\n// 1.0.1`, { version: '1.0.1', contextReuse: { maxCalls: 100 } });
    await sandbox.register(v1.manifest, v1.bundle);
    assert.deepEqual(await run('reuse-versions', { mark: 'v1' }, { version: '1.0.0' }), { calls: 1, mark: 'v1' });
    assert.deepEqual(await run('reuse-versions', { mark: 'x' }, { version: '1.0.0' }), { calls: 2, mark: 'v1' });
    await sandbox.register(v2.manifest, v2.bundle);
    assert.deepEqual(await run('reuse-versions', { mark: 'v2' }), { calls: 1, mark: 'v2' });
    assert.deepEqual(await run('reuse-versions', { mark: 'x' }, { version: '1.0.0' }), { calls: 3, mark: 'v1' });
  });

  it('gives a call with a different effective grant a fresh context', async () => {
    const t = toolFixture('reuse-grants', COUNTER, { secrets: ['API_TOKEN'], contextReuse: { maxCalls: 100 } });
    await sandbox.register(t.manifest, t.bundle, { grantPermissions: true });
    assert.deepEqual(await run('reuse-grants', { mark: 'with-secret' }), { calls: 1, mark: 'with-secret' });
    assert.deepEqual(await run('reuse-grants', { mark: 'x' }), { calls: 2, mark: 'with-secret' });
    assert.deepEqual(await run('reuse-grants', { mark: 'narrowed' }, { grants: { secrets: [] } }), { calls: 1, mark: 'narrowed' });
    assert.deepEqual(await run('reuse-grants', { mark: 'x' }), { calls: 3, mark: 'with-secret' });
  });

  it('discards the context after a failure, and after max_calls calls', async () => {
    const t = toolFixture('reuse-bounds', COUNTER, { contextReuse: { maxCalls: 3 } });
    await sandbox.register(t.manifest, t.bundle);
    assert.equal((await run('reuse-bounds', { mark: 'a' })).calls, 1);
    assert.equal((await run('reuse-bounds', { mark: 'a' })).calls, 2);
    await assert.rejects(sandbox.call({ name: 'reuse-bounds', input: { fail: true } }), (e: unknown) => e instanceof ElixirError && e.reason === 'TOOL_ERROR');
    assert.equal((await run('reuse-bounds', { mark: 'b' })).calls, 1, 'a failed call ends its context');
    assert.equal((await run('reuse-bounds', { mark: 'b' })).calls, 2);
    assert.equal((await run('reuse-bounds', { mark: 'b' })).calls, 3);
    assert.equal((await run('reuse-bounds', { mark: 'c' })).calls, 1, 'max_calls ends it');
  });

  it('discards the context after a timeout (the watchdog ends its isolate)', async () => {
    const source = COUNTER.replace("if (input.fail) throw new Error('asked to fail');", 'if (input.spin) for (;;) {}');
    const t = toolFixture('reuse-timeout', source, { timeoutMs: 300, contextReuse: { maxCalls: 100 } });
    await sandbox.register(t.manifest, t.bundle);
    assert.equal((await run('reuse-timeout', { mark: 'a' })).calls, 1);
    assert.equal((await run('reuse-timeout', { mark: 'a' })).calls, 2);
    await assert.rejects(sandbox.call({ name: 'reuse-timeout', input: { spin: true } }), (e: unknown) => e instanceof ElixirError && e.code === GrpcCode.DEADLINE_EXCEEDED);
    assert.deepEqual(await run('reuse-timeout', { mark: 'b' }), { calls: 1, mark: 'b' });
  });

  it('discards a context idle past max_idle_ms', async () => {
    const t = toolFixture('reuse-idle', COUNTER, { contextReuse: { maxCalls: 100, maxIdleMs: 100 } });
    await sandbox.register(t.manifest, t.bundle);
    assert.equal((await run('reuse-idle', { mark: 'a' })).calls, 1);
    assert.equal((await run('reuse-idle', { mark: 'a' })).calls, 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await run('reuse-idle', { mark: 'a' })).calls, 1);
  });

  it("lets a ctx kept from an earlier call do nothing in a later one, and gives each call its own signal", async () => {
    const source = `export default (input, ctx) => {
      if (!globalThis.old) { globalThis.old = ctx; ctx.signal.addEventListener('abort', () => { globalThis.oldAborted = true; }); return { first: true }; }
      let log; try { globalThis.old.log('info', 'from an old call'); log = 'sent'; } catch (e) { log = e.code; }
      return { log, sameSignal: globalThis.old.signal === ctx.signal, aborted: ctx.signal.aborted };
    };`;
    const t = toolFixture('reuse-oldctx', source, { contextReuse: { maxCalls: 10 } });
    await sandbox.register(t.manifest, t.bundle);
    assert.deepEqual((await sandbox.call({ name: 'reuse-oldctx', input: {} })).output, { first: true });
    const second = await sandbox.call({ name: 'reuse-oldctx', input: {} });
    assert.deepEqual(second.output, { log: 'FAILED_PRECONDITION', sameSignal: false, aborted: false });
    assert.equal(second.events.filter((e) => e.type === 'log').length, 0);
  });

  it('refuses context_reuse bounds past the maximum, naming the field', async () => {
    const t = toolFixture('reuse-invalid', COUNTER, { contextReuse: { maxCalls: 100_000 } });
    await assert.rejects(sandbox.register(t.manifest, t.bundle), (e: unknown) => {
      assert.ok(e instanceof ElixirError);
      assert.equal(e.code, GrpcCode.INVALID_ARGUMENT);
      assert.ok(e.fieldViolations?.some((v) => v.field === 'manifest.context_reuse.max_calls'), JSON.stringify(e.fieldViolations));
      return true;
    });
  });
});
