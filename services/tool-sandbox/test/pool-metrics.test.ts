import assert from 'node:assert/strict';
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { initTelemetry, until, type Telemetry } from '@elixirchain/runtime';
import { createSandbox, type ToolSandbox } from '../src/index.js';
import { toolFixture } from './fixtures/tool-fixture.js';

describe('tool-sandbox pool utilisation metrics', function () {
  this.timeout(60_000);
  let telemetry: Telemetry;
  let sandbox: ToolSandbox;
  const exported = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: exported, exportIntervalMillis: 3_600_000 });

  /** The gauges as of now, by name. */
  async function gauges(): Promise<Record<string, number>> {
    exported.reset();
    await reader.forceFlush();
    const out: Record<string, number> = {};
    for (const m of exported.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))) {
      if (m.descriptor.name.startsWith('elixirchain.sandbox.')) out[m.descriptor.name] = Number(m.dataPoints[0]?.value ?? NaN);
    }
    return out;
  }

  /** A probe for until(): the gauges once they satisfy `check`. */
  const gaugesWhere = (check: (g: Record<string, number>) => boolean) => async () => {
    const g = await gauges();
    return check(g) ? g : undefined;
  };

  before(async () => {
    telemetry = initTelemetry('tool-sandbox-test', { metricReader: reader });
    sandbox = await createSandbox({ pool: { workers: 2, maxCallsPerWorker: 1, maxQueue: 8 } });
  });
  after(async () => {
    await sandbox?.stop();
    await telemetry?.shutdown();
    metrics.disable();
  });

  it('reports workers busy/total, calls in flight against slots and the queue depth', async () => {
    const idle = await until('two ready workers', gaugesWhere((g) => g['elixirchain.sandbox.slots'] === 2), 30_000);
    assert.equal(idle['elixirchain.sandbox.workers'], 2);
    assert.equal(idle['elixirchain.sandbox.workers.busy'], 0);
    assert.equal(idle['elixirchain.sandbox.queue.depth'], 0);
    assert.equal(idle['elixirchain.sandbox.utilization'], 0);

    const { manifest, bundle } = toolFixture('sleeper', 'export default async (input) => { await new Promise((r) => setTimeout(r, input.ms)); return input.ms; };', { timeoutMs: 20_000 });
    await sandbox.register(manifest, bundle);
    const calls = [0, 1, 2].map(() => sandbox.call({ name: 'sleeper', input: { ms: 1500 } }));
    const loaded = await until('two busy workers and one waiting call', gaugesWhere((g) => g['elixirchain.sandbox.queue.depth'] === 1 && g['elixirchain.sandbox.workers.busy'] === 2), 30_000);
    assert.equal(loaded['elixirchain.sandbox.calls.in_flight'], 2);
    assert.equal(loaded['elixirchain.sandbox.utilization'], 1);
    await Promise.all(calls);
    const after = await until('the calls to finish', gaugesWhere((g) => g['elixirchain.sandbox.calls.in_flight'] === 0), 30_000);
    assert.equal(after['elixirchain.sandbox.queue.depth'], 0);
    assert.equal(after['elixirchain.sandbox.workers.busy'], 0);
  });
});
