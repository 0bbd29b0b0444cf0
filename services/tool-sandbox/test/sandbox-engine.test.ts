import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ElixirError, GrpcCode, until } from '@elixirchain/runtime';
import { ToolState } from '@elixirchain/proto/sandbox';
import { createSandbox, type SandboxEvent, type ToolSandbox } from '../src/index.js';
import { toolFixture } from './fixtures/tool-fixture.js';

async function collect(events: AsyncIterable<SandboxEvent>): Promise<SandboxEvent[]> {
  const out: SandboxEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

async function failure(sandbox: ToolSandbox, request: Parameters<ToolSandbox['call']>[0]): Promise<ElixirError> {
  try {
    await sandbox.call(request);
  } catch (error) {
    assert.ok(error instanceof ElixirError, `expected an ElixirError, got ${String(error)}`);
    return error;
  }
  assert.fail('the call succeeded');
}

describe('tool sandbox engine (in-process)', function () {
  this.timeout(60_000);
  let sandbox: ToolSandbox;
  let server: http.Server;
  let port = 0;
  let pinnedLookups = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/redirect-private') {
        res.writeHead(302, { location: 'http://internal.test:' + port + '/hello' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, method: req.method }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    sandbox = await createSandbox({
      pool: { workers: 2, maxCallsPerWorker: 8 },
      secrets: { API_TOKEN: 's3cr3t-token-value', OTHER: 'other-secret-value' },
      resolver: async (host) => {
        if (host === 'api.test') return [{ address: '127.0.0.1', family: 4 }];
        // Answers once: a connection that looked the name up again (unpinned) would fail.
        if (host === 'pinned.test' && pinnedLookups++ === 0) return [{ address: '127.0.0.1', family: 4 }];
        if (host === 'pinned.test') return [{ address: '10.9.9.9', family: 4 }];
        if (host === 'internal.test') return [{ address: '10.0.0.7', family: 4 }];
        throw new Error('no such host');
      },
      allowedPrivateAddresses: ['127.0.0.1'],
    });
  });

  after(async () => {
    await sandbox?.stop();
    server?.close();
  });

  it('runs a tool whose default export is an object with execute, streaming ordered events', async () => {
    const { manifest, bundle } = toolFixture(
      'adder',
      `export default { async execute(input, ctx) {
        ctx.log('info', 'adding for ' + ctx.callId);
        ctx.progress(0.5, 'half');
        ctx.partial({ soFar: input.a });
        await new Promise((r) => setTimeout(r, 5));
        return { sum: input.a + input.b };
      } };`,
      { inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] } },
    );
    const tool = await sandbox.register(manifest, bundle);
    assert.equal(tool.state, ToolState.TOOL_STATE_ACTIVE);
    const events = await collect(sandbox.invoke({ name: 'adder', input: { a: 2, b: 3 }, callId: 'call-1' }));
    assert.deepEqual(events.map((e) => e.type), ['started', 'log', 'progress', 'partial', 'result']);
    assert.deepEqual(events.map((e) => e.sequence), [1, 2, 3, 4, 5]);
    const result = events.at(-1) as Extract<SandboxEvent, { type: 'result' }>;
    assert.deepEqual(result.output, { sum: 5 });
    assert.equal(result.toolVersion, 'adder@1.0.0');
    assert.equal((events[1] as Extract<SandboxEvent, { type: 'log' }>).message, 'adding for call-1');
  });

  it('runs a tool whose default export is a function', async () => {
    const { manifest, bundle } = toolFixture('doubler', 'export default (input) => input.n * 2;');
    await sandbox.register(manifest, bundle);
    assert.equal((await sandbox.call({ name: 'doubler', input: { n: 21 } })).output, 42);
  });

  it('refuses input that violates the schema with INVALID_ARGUMENT and the JSON pointer', async () => {
    const error = await failure(sandbox, { name: 'adder', input: { a: 'two', b: 3 } });
    assert.equal(error.code, GrpcCode.INVALID_ARGUMENT);
    assert.equal(error.fieldViolations[0]!.field, '/a');
    assert.match(error.message, /\/a/);
  });

  it('a tool that refuses its input (code INVALID_TOOL_INPUT, the SDK\'s ToolInputError) fails the call with INVALID_ARGUMENT, not retried', async () => {
    const { manifest, bundle } = toolFixture(
      'picky',
      `let calls = 0;
      export default (input) => {
        calls += 1;
        if (input.expression.includes('?')) throw Object.assign(new Error('unexpected "?" at ' + input.expression.indexOf('?') + ' (calls ' + calls + ')'), { name: 'ToolInputError', code: 'INVALID_TOOL_INPUT' });
        if (input.expression === 'boom') throw new Error('boom');
        return { ok: true };
      };`,
      { inputSchema: { type: 'object', properties: { expression: { type: 'string' } }, required: ['expression'] }, idempotent: true },
    );
    await sandbox.register(manifest, bundle);
    const refused = await failure(sandbox, { name: 'picky', input: { expression: 'what is 2+3?' } });
    assert.equal(refused.code, GrpcCode.INVALID_ARGUMENT);
    assert.equal(refused.reason, 'INVALID_TOOL_INPUT');
    assert.match(refused.message, /unexpected "\?" at 11 \(calls 1\)/, 'one attempt: a refusal is not retried');
    assert.deepEqual((await sandbox.call({ name: 'picky', input: { expression: '2+3' } })).output, { ok: true });
    const crashed = await failure(sandbox, { name: 'picky', input: { expression: 'boom' } });
    assert.equal(crashed.code, GrpcCode.INTERNAL, 'any other error stays the tool\'s failure');
  });

  it('fails output that violates the schema with INTERNAL naming the tool version', async () => {
    const { manifest, bundle } = toolFixture('liar', 'export default () => ({ n: "not a number" });', {
      outputSchema: { type: 'object', properties: { n: { type: 'number' } } },
    });
    await sandbox.register(manifest, bundle);
    const error = await failure(sandbox, { name: 'liar' });
    assert.equal(error.code, GrpcCode.INTERNAL);
    assert.equal(error.reason, 'OUTPUT_SCHEMA_VIOLATION');
    assert.match(error.message, /liar@1\.0\.0/);
  });

  it('refuses a bundle with a syntax error at registration, with the message', async () => {
    const { manifest, bundle } = toolFixture('broken', 'export default { execute( { }');
    await assert.rejects(sandbox.register(manifest, bundle), (e: ElixirError) => e.code === GrpcCode.INVALID_ARGUMENT && e.reason === 'BUNDLE_SYNTAX' && /Unexpected|SyntaxError|missing/i.test(e.message));
  });

  it('refuses a bundle whose sha256 does not match', async () => {
    const { manifest, bundle } = toolFixture('shaky', 'export default () => 1;');
    manifest.bundleSha256 = '0'.repeat(64);
    await assert.rejects(sandbox.register(manifest, bundle), (e: ElixirError) => e.code === GrpcCode.INVALID_ARGUMENT && e.fieldViolations.some((v) => v.field === 'manifest.bundle_sha256'));
  });

  it('refuses schema patterns with backreferences or lookarounds', async () => {
    const { manifest, bundle } = toolFixture('regexy', 'export default () => 1;', { inputSchema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a)\\1$' } } } });
    await assert.rejects(sandbox.register(manifest, bundle), (e: ElixirError) => e.code === GrpcCode.INVALID_ARGUMENT && /backreferences/.test(e.message));
  });

  it('keeps a version that asks for more than the grant PENDING_GRANT until GrantTool', async () => {
    const { manifest, bundle } = toolFixture('fetcher', 'export default async (i, ctx) => (await ctx.fetch("http://api.test:" + i.port + "/x")).json();', { networkHosts: ['api.test'] });
    const tool = await sandbox.register(manifest, bundle);
    assert.equal(tool.state, ToolState.TOOL_STATE_PENDING_GRANT);
    assert.deepEqual(tool.missingPermissions?.networkHosts, ['api.test']);
    const pending = await failure(sandbox, { name: 'fetcher', input: { port } });
    assert.equal(pending.code, GrpcCode.FAILED_PRECONDITION);
    const { activated } = await sandbox.grant('fetcher', { networkHosts: ['api.test'] });
    assert.deepEqual(activated.map((r) => r.version), ['1.0.0']);
    const { output } = await sandbox.call({ name: 'fetcher', input: { port } });
    assert.deepEqual(output, { path: '/x', method: 'GET' });
  });

  it('swaps versions live: a call in flight finishes on the old version, new calls get the new one', async () => {
    const v1 = toolFixture('swapper', 'export default async () => { await new Promise((r) => setTimeout(r, 400)); return "v1"; };', { version: '1.0.0' });
    await sandbox.register(v1.manifest, v1.bundle);
    const inFlight = sandbox.call({ name: 'swapper' });
    await new Promise((r) => setTimeout(r, 100));
    const v2 = toolFixture('swapper', 'export default () => "v2";', { version: '1.1.0' });
    await sandbox.register(v2.manifest, v2.bundle);
    assert.equal((await sandbox.call({ name: 'swapper' })).output, 'v2');
    assert.equal((await inFlight).output, 'v1');
    assert.equal((await sandbox.call({ name: 'swapper', version: '^1.0.0 <1.1.0' })).output, 'v1');
  });

  it('fails a call whose output contains a granted secret with PERMISSION_DENIED naming it, and redacts logs', async () => {
    const { manifest, bundle } = toolFixture('leaker', 'export default (i, ctx) => { const t = ctx.secrets.get("API_TOKEN"); ctx.log("info", "token is " + t); return i.leak ? { t } : { ok: true }; };', { secrets: ['API_TOKEN'] });
    await sandbox.register(manifest, bundle, { grantPermissions: true });
    const events = await collect(sandbox.invoke({ name: 'leaker', input: { leak: true } }));
    const log = events.find((e) => e.type === 'log') as Extract<SandboxEvent, { type: 'log' }>;
    assert.equal(log.message, 'token is [REDACTED:API_TOKEN]');
    const end = events.at(-1) as Extract<SandboxEvent, { type: 'error' }>;
    assert.equal(end.type, 'error');
    assert.equal(end.error.code, GrpcCode.PERMISSION_DENIED);
    assert.match(end.error.message, /API_TOKEN/);
    assert.doesNotMatch(JSON.stringify(events), /s3cr3t-token-value/);
    assert.deepEqual((await sandbox.call({ name: 'leaker', input: {} })).output, { ok: true });
  });

  it('retries an idempotent tool per its policy, each attempt visible', async () => {
    const { manifest, bundle } = toolFixture('flaky', 'export default (i, ctx) => { if (ctx.attempt < 3) throw new Error("flaky " + ctx.attempt); return ctx.attempt; };', { idempotent: true, maxAttempts: 3 });
    await sandbox.register(manifest, bundle);
    const events = await collect(sandbox.invoke({ name: 'flaky' }));
    assert.deepEqual(events.map((e) => e.type), ['started', 'error', 'started', 'error', 'started', 'result']);
    assert.equal((events[1] as Extract<SandboxEvent, { type: 'error' }>).willRetry, true);
    assert.equal((events.at(-1) as Extract<SandboxEvent, { type: 'result' }>).attempts, 3);
  });

  it('times out a never-settling tool with DEADLINE_EXCEEDED', async () => {
    const { manifest, bundle } = toolFixture('sleeper', 'export default () => new Promise(() => {});', { timeoutMs: 300 });
    await sandbox.register(manifest, bundle);
    const error = await failure(sandbox, { name: 'sleeper' });
    assert.equal(error.code, GrpcCode.DEADLINE_EXCEEDED);
  });

  it('refuses fetches to a granted name that resolves to a private address', async () => {
    const { manifest, bundle } = toolFixture('internal', 'export default async (i, ctx) => (await ctx.fetch("http://internal.test/")).status;', { networkHosts: ['internal.test'] });
    await sandbox.register(manifest, bundle, { grantPermissions: true });
    const error = await failure(sandbox, { name: 'internal' });
    assert.equal(error.code, GrpcCode.PERMISSION_DENIED);
  });

  it('aborts ctx.signal and frees the isolate when the caller cancels', async () => {
    const { manifest, bundle } = toolFixture('cancellable', 'export default (i, ctx) => new Promise((resolve) => { ctx.signal.addEventListener("abort", () => resolve("aborted")); });', { timeoutMs: 10_000 });
    await sandbox.register(manifest, bundle);
    const controller = new AbortController();
    const started = performance.now();
    const events = sandbox.invoke({ name: 'cancellable' }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const seen = await collect(events);
    assert.ok(performance.now() - started < 5000);
    const end = seen.at(-1)!;
    assert.ok(end.type === 'error' && end.error.code === GrpcCode.CANCELLED, JSON.stringify(end));
  });

  it('aborts ctx.signal shortly before the deadline so a tool can return what it has', async () => {
    const { manifest, bundle } = toolFixture('deadline-aware', 'export default (i, ctx) => new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve({ partial: true, reason: ctx.signal.reason })));', { timeoutMs: 500 });
    await sandbox.register(manifest, bundle);
    const { output } = await sandbox.call({ name: 'deadline-aware' });
    assert.deepEqual(output, { partial: true, reason: 'deadline' });
  });

  it('fails a call whose client stops reading once the event backlog passes its bound', async () => {
    const { manifest, bundle } = toolFixture('firehose', 'export default (i, ctx) => { const chunk = "p".repeat(60000); for (let n = 0; n < 400; n++) ctx.partial(chunk); return "done"; };', { maxEvents: 1000, timeoutMs: 10_000 });
    await sandbox.register(manifest, bundle);
    const iterator = sandbox.invoke({ name: 'firehose' })[Symbol.asyncIterator]();
    await iterator.next();
    await new Promise((r) => setTimeout(r, 1500));
    let last: SandboxEvent | undefined;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) last = next.value;
    assert.ok(last?.type === 'error' && last.error.reason === 'STREAM_BACKLOG', JSON.stringify(last && { type: last.type, reason: (last as { error?: ElixirError }).error?.reason }));
    assert.equal(last.error.code, GrpcCode.RESOURCE_EXHAUSTED);
  });

  it('connects to the address it checked (pinned), not to a second DNS answer', async () => {
    const { manifest, bundle } = toolFixture('pinned', 'export default async (i, ctx) => (await ctx.fetch("http://pinned.test:" + i.port + "/pin")).json();', { networkHosts: ['pinned.test'] });
    await sandbox.register(manifest, bundle, { grantPermissions: true });
    const { output } = await sandbox.call({ name: 'pinned', input: { port } });
    assert.deepEqual(output, { path: '/pin', method: 'GET' });
    assert.equal(pinnedLookups, 1);
  });

  it('kills and replaces a worker that stops answering, failing only its calls', async () => {
    const { manifest, bundle } = toolFixture('frozen', 'export default async () => { await new Promise((r) => setTimeout(r, 100)); return "answered"; };', { timeoutMs: 300 });
    await sandbox.register(manifest, bundle);
    const call = sandbox.call({ name: 'frozen' }).then(
      () => undefined,
      (error: ElixirError) => error,
    );
    let target: number | undefined;
    // Polled every 5 ms, not with until(): the call holds its worker for only 100 ms.
    for (const deadline = Date.now() + 5000; target === undefined && Date.now() < deadline; await new Promise((r) => setTimeout(r, 5))) {
      target = sandbox.workers().find((w) => w.load > 0)?.pid;
    }
    assert.ok(target, 'the call never reached a worker');
    process.kill(target, 'SIGSTOP');
    const error = await call;
    assert.equal(error?.code, GrpcCode.UNAVAILABLE);
    assert.equal(error?.reason, 'WORKER_CRASHED');
    await until('the stopped worker to be replaced', () => {
      const workers = sandbox.workers();
      return workers.length === 2 && workers.every((w) => w.state === 'ready' && w.pid !== target);
    }, 15_000);
    assert.equal((await sandbox.call({ name: 'frozen' })).output, 'answered');
  });
});
