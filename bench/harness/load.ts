// Runs an operation one at a time or with N in flight, for a fixed count or
// until a time budget runs out, whichever comes first.
import { summarizeLatencies, type LatencySummary } from './percentiles.js';

export interface LoadOptions {
  /** Operations to run (the count is fixed so rows compare like for like). */
  iterations: number;
  /** Stop starting new operations after this long; the result says how many ran. */
  timeBudgetMs: number;
  /** Operations in flight at once; 1 means sequential. */
  inFlight?: number;
}

export interface LoadResult {
  completed: number;
  elapsedMs: number;
  opsPerSecond: number;
  latency: LatencySummary;
  /** True when the time budget, not the iteration count, ended the run. */
  truncated: boolean;
}

/** `operation(i)` gets the operation's index; a rejection aborts the whole run. */
export async function runLoad(operation: (index: number) => Promise<unknown>, options: LoadOptions): Promise<LoadResult> {
  const inFlight = Math.max(1, options.inFlight ?? 1);
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + options.timeBudgetMs;
  let next = 0;
  let truncated = false;

  async function worker(): Promise<void> {
    while (next < options.iterations) {
      if (performance.now() > deadline) {
        truncated = true;
        return;
      }
      const index = next++;
      const t0 = performance.now();
      await operation(index);
      latencies.push(performance.now() - t0);
    }
  }

  await Promise.all(Array.from({ length: Math.min(inFlight, options.iterations) }, () => worker()));
  const elapsedMs = performance.now() - started;
  return {
    completed: latencies.length,
    elapsedMs,
    opsPerSecond: latencies.length / (elapsedMs / 1000),
    latency: summarizeLatencies(latencies),
    truncated,
  };
}

/** Runs `count` operations sequentially and discards the timings (JIT, pools, caches). */
export async function warmUp(operation: (index: number) => Promise<unknown>, count: number, inFlight = 1): Promise<void> {
  await runLoad(operation, { iterations: count, timeBudgetMs: Number.POSITIVE_INFINITY, inFlight });
}
