// Is a worker thread better than short synchronous slices on the main thread?
// Measures, for a 5,000-memory upsert (384 dims) while a small read runs every
// millisecond: the longest event-loop stall, the small reads' p99, and the
// upsert's wall time — main thread with slices of 500 rows, main thread in one
// slice, and a worker thread owning its own connection. Also the per-call cost
// of crossing to the worker for a tiny read.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SqliteStore } from '@elixirchain/memory';

const DIMS = 384;

function batch(prefix: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    text: `memory ${i}`,
    metadata: { category: `c${i % 10}` },
    vector: Float32Array.from({ length: DIMS }, (_, j) => Math.sin(i * 0.7 + j)),
  }));
}

async function underLoad(work: () => Promise<unknown>, smallRead: () => Promise<unknown>) {
  const reads: number[] = [];
  let running = true;
  const reader = (async () => {
    while (running) {
      const t0 = performance.now();
      await smallRead();
      reads.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  // A 1 ms ticker: the longest gap between its ticks is the longest stall.
  let last = performance.now();
  let maxGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  await work();
  const wall = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(ticker);
  running = false;
  await reader;
  reads.sort((a, b) => a - b);
  return {
    wallMs: wall,
    maxStallMs: maxGap,
    readP99Ms: reads[Math.min(reads.length - 1, Math.ceil(reads.length * 0.99) - 1)] ?? Number.NaN,
    reads: reads.length,
  };
}

export async function slicesVsWorker(quick: boolean): Promise<Array<Record<string, string | number>>> {
  const n = quick ? 1_000 : 5_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-worker-'));
  const rows: Array<Record<string, string | number>> = [];
  const sliced = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0, sliceRows: 250, vectorCacheBytes: 0 });
  const whole = await SqliteStore.open({ dataDir: dir, sweepIntervalMs: 0, sliceRows: 1_000_000, vectorCacheBytes: 0 });
  await sliced.putState({ key: 'probe', value: { $case: 'structValue', structValue: { x: 1 } } });
  const worker = new Worker(new URL('./store-worker.ts', import.meta.url), { workerData: { dataDir: dir } });
  let nextId = 0;
  const pending = new Map<number, (v: unknown) => void>();
  await new Promise<void>((resolve) =>
    worker.on('message', (m: { ready?: boolean; id?: number; result?: unknown; error?: string }) => {
      if (m.ready) resolve();
      else if (m.id !== undefined) pending.get(m.id)?.(m.error ? Promise.reject(new Error(m.error)) : m.result);
    }),
  );
  const call = (op: string, args: unknown) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      worker.postMessage({ id, op, args });
    });
  try {
    // Inputs are built before the clock starts.
    const inputs = { sliced: batch('sliced', n), whole: batch('whole', n), worker: batch('worker', n) };
    const upsert = (store: SqliteStore, ns: 'sliced' | 'whole') => () =>
      store.upsertMemories({ namespace: ns, embedder: 'e', dimensions: DIMS, memories: inputs[ns] });
    const cases: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
      ['main thread, slices of 250 rows', upsert(sliced, 'sliced'), () => sliced.getState('probe')],
      ['main thread, one slice', upsert(whole, 'whole'), () => whole.getState('probe')],
      [
        'worker thread (own connection)',
        () => call('upsert', { namespace: 'worker', embedder: 'e', dimensions: DIMS, memories: inputs.worker }),
        () => call('getState', 'probe'),
      ],
    ];
    for (const [label, work, read] of cases) {
      const r = await underLoad(work, read);
      rows.push({
        row: `upsert-${label.includes('slices') ? 'main-sliced' : label.includes('one') ? 'main-whole' : 'worker'}`,
        operation: `upsert ${n} × ${DIMS} while reading every ms: ${label}`,
        n,
        'p50 ms': Number(r.wallMs.toFixed(1)),
        'max event-loop stall ms': Number(r.maxStallMs.toFixed(1)),
        'small read p99 ms': Number(r.readP99Ms.toFixed(2)),
      });
    }
    // Per-call cost of the hop for a tiny read.
    const hop = async (fn: () => Promise<unknown>) => {
      for (let i = 0; i < 200; i++) await fn();
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) await fn();
      return ((performance.now() - t0) / 2000) * 1000;
    };
    rows.push({ row: 'getstate-main', operation: 'GetState in the main thread, sequential (mean µs per call)', n: 2000, 'mean µs': Math.round(await hop(() => sliced.getState('probe'))) });
    rows.push({ row: 'getstate-worker', operation: 'GetState through the worker, sequential (mean µs per call)', n: 2000, 'mean µs': Math.round(await hop(() => call('getState', 'probe'))) });
  } finally {
    await call('close', null);
    await worker.terminate();
    await sliced.close();
    await whole.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.table(await slicesVsWorker(process.argv.includes('--quick')));
}
