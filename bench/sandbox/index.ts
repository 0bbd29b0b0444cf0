// The sandbox suite: what a tool call costs in the tool sandbox.
//
// - invoke latency, warm (p50/p99), one call at a time: through gRPC and
//   in-process (the engine the plugin SDK's test harness uses), next to
//   node:vm with a fresh context per call — the unsafe floor (no isolation
//   at all) — measured in the same run;
// - cold: the first call of a newly registered version (and RegisterTool +
//   first call), and a call that gets a brand-new isolate every time;
// - throughput with many calls in flight on the 2-worker pool.
// Targets: warm p50 < 1 ms and p99 < 5 ms in-process, cold < 25 ms.
//
// Run alone: npx node --import tsx --no-node-snapshot bench/sandbox/index.ts [--quick]
import { createHash } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import vm from 'node:vm';
import { connect, startServer } from '@elixirchain/runtime';
import { ToolSandboxServiceDefinition, type ToolManifest } from '@elixirchain/proto/sandbox';
import { createSandbox, toolSandboxService } from '@elixirchain/tool-sandbox';
import { CpuMeter, runLoad, summarizeLatencies, warmUp, type LatencySummary } from '../harness/index.js';

export interface BenchResult {
  suite: string;
  rows: Array<Record<string, string | number>>;
  notes: string[];
}

export const ADD_SOURCE = 'export default { execute(input) { return { sum: input.a + input.b }; } };';
const ADD_SCHEMA = { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] };

/** The add tool's manifest for a version of its source (contextReuse: the manifest opts in). */
export function manifestFor(name: string, version: string, source: string, contextReuse?: ToolManifest['contextReuse']): { manifest: ToolManifest; bundle: Buffer } {
  const bundle = Buffer.from(source);
  return {
    bundle,
    manifest: {
      name,
      version,
      description: 'adds two numbers',
      inputSchema: ADD_SCHEMA,
      outputSchema: { type: 'object', properties: { sum: { type: 'number' } } },
      annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
      permissions: { networkHosts: [], secrets: [] },
      limits: { memoryMb: 32, timeoutMs: 5000, maxOutputBytes: 4096, cpuTimeMs: 0, maxEvents: 10 },
      retry: undefined,
      bundleSha256: createHash('sha256').update(bundle).digest('hex'),
      contextReuse,
    },
  };
}

const ms = (v: number) => Math.round(v * 1000) / 1000;

function latencyRow(row: string, what: string, s: LatencySummary, extra: Record<string, string | number> = {}) {
  return { row, what, n: s.count, 'p50 ms': ms(s.p50), 'p99 ms': ms(s.p99), 'max ms': ms(s.max), ...extra };
}

async function sequential(op: (i: number) => Promise<unknown>, n: number): Promise<LatencySummary> {
  return (await runLoad(op, { iterations: n, timeBudgetMs: 60_000 })).latency;
}

/** node:vm: a new context per call, no isolation whatsoever — what isolation costs is measured against this. */
function nodeVmFloor(): (inputJson: string) => string {
  const script = new vm.Script('(input) => ({ sum: input.a + input.b })');
  return (inputJson) => {
    const context = vm.createContext({});
    const execute = script.runInContext(context) as (input: unknown) => unknown;
    return JSON.stringify(execute(JSON.parse(inputJson)));
  };
}

export async function run(opts: { quick: boolean }): Promise<BenchResult> {
  const n = opts.quick ? 50 : 3000;
  const coldN = opts.quick ? 3 : 40;
  const loadMs = opts.quick ? 300 : 4000;
  const rows: Array<Record<string, string | number>> = [];
  const notes: string[] = [];

  // node:vm floor, same process, same run.
  const floor = nodeVmFloor();
  const input = JSON.stringify({ a: 2, b: 3 });
  for (let i = 0; i < 200; i++) floor(input);
  const vmLatency = await sequential(async () => floor(input), n);
  rows.push(latencyRow('node-vm', 'node:vm fresh context per call (no isolation: the unsafe floor)', vmLatency));

  const sandbox = await createSandbox({ pool: { workers: 2 } });
  const server = await startServer({ name: 'tool-sandbox-bench', address: '127.0.0.1:0', services: [toolSandboxService(sandbox)] });
  const client = connect(ToolSandboxServiceDefinition, server.address);
  try {
    const add = manifestFor('add', '1.0.0', ADD_SOURCE);
    await sandbox.register(add.manifest, add.bundle);
    const callInProcess = (i: number) => sandbox.call({ name: 'add', input: { a: i, b: 1 } });
    // Read each stream to its end: breaking out early resets the stream, and thousands of
    // resets in a row look like an HTTP/2 rapid-reset attack to the server's transport.
    const callGrpc = async (i: number) => {
      let output: unknown;
      for await (const event of client.invokeTool({ name: 'add', input: { a: i, b: 1 } })) {
        if (event.event?.$case === 'result') output = event.event.result.output;
      }
      if (output === undefined) throw new Error('no result');
      return output;
    };

    await warmUp(callInProcess, opts.quick ? 20 : 500);
    const warmIn = await sequential(callInProcess, n);
    rows.push(latencyRow('in-process-warm', 'in-process engine, warm isolate, fresh context per call', warmIn, { target: 'p50 < 1, p99 < 5' }));
    // The same tool opted in to context reuse (manifest.context_reuse): a warm context serves up to 1000 calls.
    const addReuse = manifestFor('addreuse', '1.0.0', ADD_SOURCE, { maxCalls: 1000, maxIdleMs: 0 });
    await sandbox.register(addReuse.manifest, addReuse.bundle);
    const callReuse = (i: number) => sandbox.call({ name: 'addreuse', input: { a: i, b: 1 } });
    await warmUp(callReuse, opts.quick ? 20 : 500);
    rows.push(latencyRow('in-process-warm-reuse', 'in-process engine, context reused across calls (opt-in context_reuse)', await sequential(callReuse, n)));
    await warmUp(callGrpc, opts.quick ? 20 : 500);
    const warmGrpc = await sequential(callGrpc, n);
    rows.push(latencyRow('grpc-warm', 'InvokeTool over gRPC (same process), warm', warmGrpc));

    // Cold: every version is new, so its first call is the first ever.
    const firstCall: number[] = [];
    const registerAndCall: number[] = [];
    for (let i = 0; i < coldN; i++) {
      const v = manifestFor('cold', `1.0.${i}`, `${ADD_SOURCE}\n// build ${i}`);
      const t0 = performance.now();
      await sandbox.register(v.manifest, v.bundle);
      const t1 = performance.now();
      await sandbox.call({ name: 'cold', version: `1.0.${i}`, input: { a: 1, b: 2 } });
      const t2 = performance.now();
      firstCall.push(t2 - t1);
      registerAndCall.push(t2 - t0);
    }
    rows.push(latencyRow('in-process-cold', 'first call of a new version (registration has compiled it once)', summarizeLatencies(firstCall), { target: '< 25' }));
    rows.push(latencyRow('in-process-register-cold', 'RegisterTool (validate, compile in a worker, store) + first call', summarizeLatencies(registerAndCall)));
    const grpcCold: number[] = [];
    for (let i = 0; i < coldN; i++) {
      const v = manifestFor('coldgrpc', `1.0.${i}`, `${ADD_SOURCE}\n// grpc build ${i}`);
      await client.registerTool({ manifest: v.manifest, bundle: v.bundle });
      const t0 = performance.now();
      for await (const event of client.invokeTool({ name: 'coldgrpc', version: `1.0.${i}`, input: { a: 1, b: 2 } })) void event;
      grpcCold.push(performance.now() - t0);
    }
    rows.push(latencyRow('grpc-cold', 'first InvokeTool of a new version over gRPC', summarizeLatencies(grpcCold)));

    // Throughput: many in flight over the 2-worker pool. CPU per call (this process plus
    // the workers) is the figure that survives a busy machine; calls/s does not.
    const inFlight = 32;
    const pids = () => Object.fromEntries([['service', process.pid], ...sandbox.workers().map((w, i) => [`worker${i}`, w.pid!] as [string, number])]);
    const cpuPerCall = (used: Record<string, number>, calls: number) => ms(Object.values(used).reduce((a, b) => a + b, 0) / calls);
    for (const [row, what, op] of [
      ['in-process-throughput', `in-process, ${inFlight} in flight, 2 workers`, callInProcess],
      ['grpc-throughput', `gRPC, ${inFlight} in flight, 2 workers`, callGrpc],
      ['in-process-throughput-reuse', `in-process, ${inFlight} in flight, 2 workers, context reuse (opt-in)`, callReuse],
    ] as const) {
      await warmUp(op, inFlight * 4, inFlight);
      const meter = new CpuMeter(pids());
      const load = await runLoad(op, { iterations: 1e9, timeBudgetMs: loadMs, inFlight });
      const used = meter.stop();
      const workersOnly = Object.entries(used).filter(([name]) => name !== 'service').reduce((a, [, v]) => a + v, 0);
      rows.push({ row, what, n: load.completed, 'p50 ms': ms(load.latency.p50), 'p99 ms': ms(load.latency.p99), 'calls/s': Math.round(load.opsPerSecond), 'CPU ms/call': cpuPerCall(used, load.completed), 'worker CPU ms/call': ms(workersOnly / load.completed) });
    }
    const vmMeter = new CpuMeter({ service: process.pid });
    const tpVm = await runLoad(async () => floor(input), { iterations: 1e9, timeBudgetMs: loadMs, inFlight: 1 });
    rows.push({ row: 'node-vm-throughput', what: 'node:vm fresh context, one thread', n: tpVm.completed, 'p50 ms': ms(tpVm.latency.p50), 'p99 ms': ms(tpVm.latency.p99), 'calls/s': Math.round(tpVm.opsPerSecond), 'CPU ms/call': cpuPerCall(vmMeter.stop(), tpVm.completed) });

    notes.push(
      `warm in-process p50 ${ms(warmIn.p50)} ms (${(warmIn.p50 / vmLatency.p50).toFixed(1)}× node:vm), p99 ${ms(warmIn.p99)} ms; ` +
        `targets p50 < 1 ms: ${warmIn.p50 < 1 ? 'met' : 'MISSED'}, p99 < 5 ms: ${warmIn.p99 < 5 ? 'met' : 'MISSED'}; ` +
        `cold first call p50 ${ms(summarizeLatencies(firstCall).p50)} ms (< 25 ms: ${summarizeLatencies(firstCall).p99 < 25 ? 'met at p99' : 'check'}).`,
    );
    // A tail the no-isolation floor shares in the same run is the machine's, not the sandbox's.
    notes.push(`tails in this run: node:vm p99 ${ms(vmLatency.p99)} ms, in-process p99 ${ms(warmIn.p99)} ms (${(warmIn.p99 / vmLatency.p99).toFixed(2)}× the floor's own tail); load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores.`);
    notes.push(
      'Every sandbox call gets a fresh context in a warm isolate inside a worker process (IPC both ways), with input/output schema validation and secret checks; ' +
        'the next call\'s context is made once the current one has answered (a tool may opt in to context reuse: the -reuse rows). node:vm runs in this process with no isolation, no limits and no IPC.',
    );
    notes.push(`workers: ${sandbox.workers().map((w) => `pid ${w.pid}`).join(', ')}; restarts during the run: ${sandbox.workerRestarts}.`);
    if (opts.quick) notes.push('quick run: tiny sizes, numbers mean nothing');
    return { suite: 'sandbox', rows, notes };
  } finally {
    client.close();
    await server.drain(1000);
    await sandbox.stop();
  }
}


if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await run({ quick: process.argv.includes('--quick') });
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}
