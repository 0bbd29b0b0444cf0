import { metrics } from '@opentelemetry/api';

/** What the worker pool looks like at one instant. */
export interface PoolUtilisation {
  /** Worker processes alive (starting, ready or retiring). */
  workers: number;
  readyWorkers: number;
  /** Workers running at least one call. */
  busyWorkers: number;
  callsInFlight: number;
  /** Calls the ready workers can run at once. */
  slots: number;
  /** Calls waiting for a free slot. */
  queueDepth: number;
}

/**
 * Sandbox pool utilisation as OpenTelemetry observable gauges, read at each
 * collection (no cost between). Returns the unregister function. Without a
 * meter provider (no initTelemetry) they are no-ops.
 */
export function registerSandboxPoolMetrics(read: () => PoolUtilisation): () => void {
  const meter = metrics.getMeter('elixirchain.tool-sandbox');
  const workers = meter.createObservableGauge('elixirchain.sandbox.workers', { description: 'Tool worker processes alive' });
  const busy = meter.createObservableGauge('elixirchain.sandbox.workers.busy', { description: 'Tool workers running at least one call' });
  const inFlight = meter.createObservableGauge('elixirchain.sandbox.calls.in_flight', { description: 'Tool calls running in the workers' });
  const slots = meter.createObservableGauge('elixirchain.sandbox.slots', { description: 'Tool calls the ready workers can run at once' });
  const queue = meter.createObservableGauge('elixirchain.sandbox.queue.depth', { description: 'Tool calls waiting for a worker' });
  const utilisation = meter.createObservableGauge('elixirchain.sandbox.utilization', { unit: '1', description: 'Calls in flight over slots (0..1)' });
  const observables = [workers, busy, inFlight, slots, queue, utilisation];
  const callback = (result: Parameters<Parameters<typeof meter.addBatchObservableCallback>[0]>[0]) => {
    const now = read();
    result.observe(workers, now.workers);
    result.observe(busy, now.busyWorkers);
    result.observe(inFlight, now.callsInFlight);
    result.observe(slots, now.slots);
    result.observe(queue, now.queueDepth);
    result.observe(utilisation, now.slots > 0 ? Math.min(1, now.callsInFlight / now.slots) : 0);
  };
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
