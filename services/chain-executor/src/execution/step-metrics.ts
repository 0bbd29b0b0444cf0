import { metrics, type Histogram, type MeterProvider } from '@opentelemetry/api';

// Seconds, from a transform step to a long agent turn.
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

let provider: MeterProvider | undefined;
let histogram: Histogram | undefined;

/**
 * Records one step attempt's latency (elixirchain.chain.step.duration, seconds)
 * by step kind and outcome. The instrument follows the global meter provider,
 * so one made before initTelemetry (or before a test installs a reader) is not
 * stuck as a no-op.
 */
export function recordStepDuration(seconds: number, kind: string, outcome: 'completed' | 'failed', errorType?: string): void {
  const current = metrics.getMeterProvider();
  if (current !== provider || !histogram) {
    provider = current;
    histogram = current.getMeter('elixirchain.chain-executor').createHistogram('elixirchain.chain.step.duration', {
      unit: 's',
      description: 'Duration of one attempt of a chain step (combinators include their children)',
      advice: { explicitBucketBoundaries: BUCKETS },
    });
  }
  histogram.record(seconds, { 'elixirchain.step.kind': kind, 'elixirchain.step.outcome': outcome, ...(errorType ? { 'error.type': errorType } : {}) });
}
