// Latency summaries over raw samples (milliseconds); nearest-rank percentiles.

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(ascending: readonly number[], p: number): number {
  if (ascending.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * ascending.length);
  return ascending[Math.min(ascending.length, Math.max(1, rank)) - 1]!;
}

export function summarizeLatencies(samples: readonly number[]): LatencySummary {
  const ascending = Float64Array.from(samples).sort();
  const list = Array.from(ascending);
  const total = list.reduce((sum, x) => sum + x, 0);
  return {
    count: list.length,
    mean: list.length ? total / list.length : Number.NaN,
    p50: percentile(list, 50),
    p90: percentile(list, 90),
    p99: percentile(list, 99),
    max: list.length ? list[list.length - 1]! : Number.NaN,
  };
}
