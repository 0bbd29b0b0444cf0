// Bytes per resident agent for in-process rows: heap + external memory growth
// per agent kept alive, measured after forced GCs (the row runs with --expose-gc).
import type { ResidentMeasurement } from './contender.js';

function settledBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc to measure resident agents');
  for (let i = 0; i < 3; i++) gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Calls `makeResident(i)` for each agent, keeping what it returns alive until measured. */
export async function measureResidentHeap(
  count: number,
  timeBudgetMs: number,
  makeResident: (index: number) => Promise<unknown>,
): Promise<ResidentMeasurement> {
  const keep: unknown[] = [];
  const before = settledBytes();
  const deadline = performance.now() + timeBudgetMs;
  for (let i = 0; i < count && performance.now() < deadline; i++) keep.push(await makeResident(i));
  const after = settledBytes();
  const agents = keep.length;
  keep.length = 0;
  return { bytesPerAgent: agents ? (after - before) / agents : Number.NaN, method: 'heap+external after GC', agents };
}
