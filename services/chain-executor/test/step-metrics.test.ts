import assert from 'node:assert/strict';
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { RunStatus } from '@elixirchain/proto/chain';
import { initTelemetry, type Telemetry } from '@elixirchain/runtime';
import { ChainExecutor } from '../src/chain-executor.js';
import { InProcessStateStore } from '../src/storage/in-process-state-store.js';
import { chain, sequential, tool, transform } from './support/chain-builders.js';
import { FakeAgentRunner, FakeToolRunner } from './support/fake-step-runners.js';

describe('chain-executor run step latency metric', () => {
  let telemetry: Telemetry;
  let executor: ChainExecutor;
  const exported = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: exported, exportIntervalMillis: 3_600_000 });

  before(() => {
    telemetry = initTelemetry('chain-executor-test', { metricReader: reader });
    const tools = new FakeToolRunner({
      echo: { impl: (input) => input },
      broken: {
        impl: () => {
          throw new Error('always fails');
        },
      },
    });
    executor = new ChainExecutor({ state: new InProcessStateStore(), tools, agents: new FakeAgentRunner(), limits: { finishedRetentionMs: 1000 } });
  });
  after(async () => {
    await executor?.stop();
    await telemetry?.shutdown();
    metrics.disable();
  });

  it('records elixirchain.chain.step.duration per attempt by step kind and outcome', async () => {
    const runToEnd = async (id: string, root: Parameters<typeof chain>[1]) => {
      await executor.definitions.create(chain(id, root), '');
      const record = await executor.runs.start(id, 0, { x: 1 }, '');
      for await (const _event of executor.runs.watch(record.id, 0, new AbortController().signal));
      return executor.runs.get(record.id);
    };
    assert.equal((await runToEnd('measured', sequential('s', [transform('a', 'input.x + 1.0'), tool('t', 'echo', '{"v": 1.0}')]))).status, RunStatus.RUN_STATUS_SUCCEEDED);
    assert.equal((await runToEnd('failing', tool('t', 'broken', '{}'))).status, RunStatus.RUN_STATUS_FAILED);

    await reader.forceFlush();
    const points = exported
      .getMetrics()
      .flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))
      .filter((m) => m.descriptor.name === 'elixirchain.chain.step.duration')
      .flatMap((m) => m.dataPoints as DataPoint<Histogram>[]);
    const count = (kind: string, outcome: string) =>
      points.filter((p) => p.attributes['elixirchain.step.kind'] === kind && p.attributes['elixirchain.step.outcome'] === outcome).reduce((n, p) => n + p.value.count, 0);
    assert.equal(count('sequential', 'completed'), 1);
    assert.equal(count('transform', 'completed'), 1);
    assert.equal(count('tool', 'completed'), 1);
    assert.ok(count('tool', 'failed') >= 1, 'the failed tool step is measured too');
    assert.ok(points.every((p) => (p.value.sum ?? 0) >= 0));
  });
});
