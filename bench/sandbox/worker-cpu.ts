// What one call of a trivial tool costs inside the tool worker processes (the
// isolates' side of the sandbox), apart from the service process: CPU ms per
// call of the workers only, one at a time and with 32 calls in flight, and the
// same for the service process. Quick A/B for engine changes.
//
// Run: npx node --import tsx --no-node-snapshot bench/sandbox/worker-cpu.ts [--calls N] [--workers W] [--reuse]
// (--reuse: the manifest opts in to context reuse, max_calls 1000)
// Profile the workers: ELIXIRCHAIN_SANDBOX_WORKER_CPU_PROF=/tmp/prof (one .cpuprofile per worker).
import { createSandbox } from '@elixirchain/tool-sandbox';
import { CpuMeter, runLoad, warmUp } from '../harness/index.js';
import { ADD_SOURCE, manifestFor } from './index.js';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const calls = arg('--calls', 4000);
const workers = arg('--workers', 1);

const { manifest, bundle } = manifestFor('add', '1.0.0', ADD_SOURCE, process.argv.includes('--reuse') ? { maxCalls: 1000, maxIdleMs: 0 } : undefined);

const sandbox = await createSandbox({ pool: { workers } });
await sandbox.register(manifest, bundle);
const call = (i: number) => sandbox.call({ name: 'add', input: { a: i, b: 1 } });
const workerPids = () => Object.fromEntries(sandbox.workers().map((w, i) => [`worker${i}`, w.pid!]));
const sum = (used: Record<string, number>) => Object.values(used).reduce((a, b) => a + b, 0);
const r3 = (v: number) => Math.round(v * 1000) / 1000;

for (const inFlight of [1, 32]) {
  await warmUp(call, 300, inFlight);
  const workerMeter = new CpuMeter(workerPids());
  const serviceMeter = new CpuMeter({ service: process.pid });
  const load = await runLoad(call, { iterations: calls, timeBudgetMs: 60_000, inFlight });
  const worker = sum(workerMeter.stop());
  const service = serviceMeter.stop().service - sum(serviceMeter.children());
  console.log(
    `in flight ${inFlight}: ${load.completed} calls, worker CPU ${r3(worker / load.completed)} ms/call, ` +
      `service CPU ${r3(service / load.completed)} ms/call, p50 ${r3(load.latency.p50)} ms, ${Math.round(load.opsPerSecond)} calls/s`,
  );
}
if (process.env.ELIXIRCHAIN_SANDBOX_WORKER_CPU_PROF) {
  // Profiling workers exit on SIGTERM so Node writes their profiles.
  for (const w of sandbox.workers()) process.kill(w.pid!, 'SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 1500));
}
await sandbox.stop();
