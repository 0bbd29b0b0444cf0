import assert from 'node:assert/strict';
import { Aggregation, Chain, RunStatus, StepStatus } from '@elixirchain/proto/chain';
import { ElixirError, GrpcCode } from '@elixirchain/runtime';
import type { RunEvent } from '@elixirchain/proto/chain';
import { ChainExecutor } from '../src/chain-executor.js';
import { InProcessStateStore } from '../src/storage/in-process-state-store.js';
import type { StateWrite } from '../src/storage/state-store.js';
import { agent, chain, conditional, mapReduce, parallel, pipeline, sequential, tool, transform, withRetry, withTimeout } from './support/chain-builders.js';
import { FakeAgentRunner, FakeToolRunner, sleep } from './support/fake-step-runners.js';

// The interpreter and run manager with in-process fakes: fast checks of the
// semantics. The same behaviours run over real services in chain-service.test.ts.
describe('chain executor (in-process fakes)', () => {
  let state: InProcessStateStore;
  let tools: FakeToolRunner;
  let agents: FakeAgentRunner;
  let executor: ChainExecutor;
  let attemptsOfFlaky = 0;

  beforeEach(() => {
    attemptsOfFlaky = 0;
    state = new InProcessStateStore();
    tools = new FakeToolRunner({
      echo: { impl: (input) => input },
      slow: { impl: async (input, signal) => (await sleep(Number(input.ms ?? 50), signal), input) },
      flaky: { impl: () => { if (++attemptsOfFlaky < 3) throw new Error('transient'); return { ok: true }; } },
    });
    agents = new FakeAgentRunner();
    executor = new ChainExecutor({ state, tools, agents, limits: { finishedRetentionMs: 1000 } });
  });
  afterEach(() => executor.stop());

  async function runToEnd(def: Chain, input: unknown) {
    await executor.definitions.create(def, '');
    const record = await executor.runs.start(def.id, 0, input, '');
    const events: RunEvent[] = [];
    for await (const e of executor.runs.watch(record.id, 0, new AbortController().signal)) events.push(e);
    return { run: await executor.runs.get(record.id), events };
  }

  it('sequential: each step sees the same input and earlier outputs through steps', async () => {
    const { run } = await runToEnd(chain('seq', sequential('s', [transform('a', 'input.x * 2.0'), transform('b', 'steps.a + input.x')])), { x: 3 });
    assert.equal(run.status, RunStatus.RUN_STATUS_SUCCEEDED);
    assert.equal(run.output, 9);
    assert.deepEqual(run.steps.map((s) => [s.path, s.status]), [
      ['root', StepStatus.STEP_STATUS_SUCCEEDED], ['root/a', StepStatus.STEP_STATUS_SUCCEEDED], ['root/b', StepStatus.STEP_STATUS_SUCCEEDED],
    ]);
  });

  it('parallel first: the winner is the output and the losers are cancelled', async () => {
    const def = chain('first', parallel('p', [tool('fast', 'slow', '{"ms": 10.0}'), tool('slow1', 'slow', '{"ms": 5000.0}'), tool('slow2', 'slow', '{"ms": 5000.0}')], Aggregation.AGGREGATION_FIRST));
    const started = Date.now();
    const { run } = await runToEnd(def, {});
    assert.equal(run.status, RunStatus.RUN_STATUS_SUCCEEDED);
    assert.deepEqual(run.output, { ms: 10 });
    assert.ok(Date.now() - started < 4000, 'did not wait for the losers');
    assert.equal(tools.cancelled.length, 2);
    const states = Object.fromEntries(run.steps.map((s) => [s.path, s.status]));
    assert.equal(states['root/slow1'], StepStatus.STEP_STATUS_CANCELLED);
    assert.equal(states['root/slow2'], StepStatus.STEP_STATUS_CANCELLED);
  });

  it('parallel quorum returns the first n outputs; all returns every output in branch order', async () => {
    const q = await runToEnd(chain('quorum', parallel('p', [transform('a', '1'), transform('b', '2'), tool('c', 'slow', '{"ms": 5000.0}')], Aggregation.AGGREGATION_QUORUM, 2)), {});
    assert.deepEqual(q.run.output, [1, 2]);
    const all = await runToEnd(chain('all', parallel('p', [tool('a', 'slow', '{"ms": 30.0, "v": "a"}'), transform('b', '"b"')])), {});
    assert.deepEqual(all.run.output, [{ ms: 30, v: 'a' }, 'b']);
  });

  it('conditional picks the first branch whose CEL predicate holds', async () => {
    const def = chain('cond', conditional('c', [['input.n > 10.0', transform('big', '"big"')], ['input.n > 5.0', transform('mid', '"mid"')]], transform('small', '"small"')));
    assert.equal((await runToEnd(def, { n: 7 })).run.output, 'mid');
    const r = await executor.runs.start('cond', 0, { n: 1 }, '');
    for await (const _ of executor.runs.watch(r.id, 0, new AbortController().signal));
    assert.equal((await executor.runs.get(r.id)).output, 'small');
  });

  it('pipeline feeds each stage the previous output, mapped by CEL', async () => {
    const def = chain('pipe', pipeline('p', [transform('double', 'input * 2.0'), ['{"value": input}', tool('call', 'echo')], transform('take', 'input.value + 1.0')]));
    assert.equal((await runToEnd(def, 5)).run.output, 11);
  });

  it('map_reduce never runs more map steps at once than its concurrency', async () => {
    const def = chain('mr', mapReduce('m', tool('work', 'slow', '{"ms": 20.0, "i": input}'), 3, { items: 'input.items', reduceExpression: 'results.map(r, r.i).exists(i, i == 9.0)' }));
    const { run, events } = await runToEnd(def, { items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    assert.equal(run.output, true);
    assert.equal(tools.maxInFlight, 3);
    // Also observed in the event log: starts minus ends of map items never exceed 3.
    let open = 0;
    let most = 0;
    for (const e of events) {
      const path = e.event?.$case === 'stepStarted' ? e.event.stepStarted.path : e.event?.$case === 'stepCompleted' ? e.event.stepCompleted.path : '';
      if (!/map\[\d+\]$/.test(path)) continue;
      open += e.event!.$case === 'stepStarted' ? 1 : -1;
      most = Math.max(most, open);
    }
    assert.equal(most, 3);
  });

  it('a step timeout fails the step with DEADLINE_EXCEEDED; a retried step succeeds on its third attempt', async () => {
    const timed = await runToEnd(chain('timeout', withTimeout(tool('t', 'slow', '{"ms": 5000.0}'), 100)), {});
    assert.equal(timed.run.status, RunStatus.RUN_STATUS_FAILED);
    assert.equal(timed.run.error?.code, 4);
    const retried = await runToEnd(chain('retry', withRetry(tool('f', 'flaky'), { maxAttempts: 3 })), {});
    assert.equal(retried.run.status, RunStatus.RUN_STATUS_SUCCEEDED);
    assert.equal(retried.run.steps[0]!.attempts, 3);
    const failures = retried.events.filter((e) => e.event?.$case === 'stepFailed');
    assert.deepEqual(failures.map((e) => e.event?.$case === 'stepFailed' && e.event.stepFailed.willRetry), [true, true]);
  });

  it('agent steps stream text deltas as step_progress', async () => {
    const { run, events } = await runToEnd(chain('ag', agent('ask', 'helper', '"hello " + input.name')), { name: 'ada' });
    assert.equal(run.output, 'echo: hello ada');
    const deltas = events.flatMap((e) => (e.event?.$case === 'stepProgress' ? [e.event.stepProgress.textDelta] : []));
    assert.equal(deltas.join(''), 'echo: hello ada');
  });

  it('CancelRun stops running tool calls', async () => {
    await executor.definitions.create(chain('cancel', parallel('p', [tool('a', 'slow', '{"ms": 10000.0}'), tool('b', 'slow', '{"ms": 10000.0}')])), '');
    const r = await executor.runs.start('cancel', 0, {}, '');
    while (tools.inFlight < 2) await sleep(5);
    const cancelled = await executor.runs.cancel(r.id, 'user changed their mind');
    assert.equal(cancelled.status, RunStatus.RUN_STATUS_CANCELLED);
    assert.equal(tools.cancelled.length, 2);
  });

  it('StartRun with the same request_id starts one run', async () => {
    await executor.definitions.create(chain('idem', transform('t', '1')), '');
    const a = await executor.runs.start('idem', 0, {}, 'req-1');
    const b = await executor.runs.start('idem', 0, {}, 'req-1');
    assert.equal(a.id, b.id);
  });

  it('bounds leaf steps in flight per run and per executor (demand-driven: the rest wait for a slot)', async () => {
    await executor.stop();
    executor = new ChainExecutor({ state, tools, agents, limits: { maxStepsInFlight: 3, maxStepsInFlightPerRun: 2, finishedRetentionMs: 1000 } });
    const wide = chain('wide', parallel('p', ['a', 'b', 'c', 'd'].map((id) => tool(id, 'slow', '{"ms": 40.0}'))));
    await executor.definitions.create(wide, '');
    const runs = await Promise.all([1, 2, 3].map(() => executor.runs.start('wide', 0, {}, '')));
    for (const r of runs) for await (const _ of executor.runs.watch(r.id, 0, new AbortController().signal));
    assert.equal(tools.calls.length, 12);
    // Three runs of four branches each, but never more than 3 tool calls at once (executor) …
    assert.equal(tools.maxInFlight, 3);
    // … and a run alone is held to 2.
    tools.maxInFlight = 0;
    const one = await executor.runs.start('wide', 0, {}, '');
    for await (const _ of executor.runs.watch(one.id, 0, new AbortController().signal));
    assert.equal(tools.maxInFlight, 2);
  });

  it('queues runs beyond the active limit and refuses past the queue bound with RESOURCE_EXHAUSTED', async () => {
    await executor.stop();
    executor = new ChainExecutor({ state, tools, agents, limits: { maxActiveRuns: 1, maxQueuedRuns: 2, finishedRetentionMs: 1000 } });
    await executor.definitions.create(chain('hold', tool('t', 'slow', '{"ms": 100.0}')), '');
    const accepted = [];
    for (let i = 0; i < 3; i++) accepted.push(await executor.runs.start('hold', 0, {}, ''));
    assert.equal(executor.runs.activeRuns, 1);
    assert.equal(executor.runs.queuedRuns, 2);
    await assert.rejects(executor.runs.start('hold', 0, {}, ''), (e: { code?: number; retryAfterMs?: number }) => e.code === 8 && (e.retryAfterMs ?? 0) > 0);
    for (const r of accepted) for await (const _ of executor.runs.watch(r.id, 0, new AbortController().signal));
    assert.equal(tools.maxInFlight, 1, 'queued runs started one after another');
  });

  it('a watcher that reads slowly does not hold the run up, and still gets every event', async () => {
    await executor.definitions.create(chain('many', sequential('s', Array.from({ length: 20 }, (_, i) => transform(`t${i}`, `${i}.0`)))), '');
    const r = await executor.runs.start('many', 0, {}, '');
    const seen: number[] = [];
    for await (const e of executor.runs.watch(r.id, 0, new AbortController().signal)) {
      if (seen.length === 0) {
        // The run finishes while this reader sleeps on its first event.
        await sleep(100);
        assert.equal((await executor.runs.get(r.id)).status, RunStatus.RUN_STATUS_SUCCEEDED);
      }
      seen.push(e.sequence);
    }
    assert.deepEqual(seen, seen.map((_, i) => i + 1));
    assert.equal(seen.length, 2 + 2 * 21);
  });

  it('does not retry codes the policy names non-retryable, nor INVALID_ARGUMENT by default', async () => {
    tools = new FakeToolRunner({
      down: { impl: () => { throw new ElixirError(GrpcCode.UNAVAILABLE, 'DOWN', 'backend down'); } },
      bad: { impl: () => { throw new ElixirError(GrpcCode.INVALID_ARGUMENT, 'BAD', 'bad input'); } },
    });
    await executor.stop();
    executor = new ChainExecutor({ state, tools, agents, limits: { finishedRetentionMs: 1000 } });
    const named = await runToEnd(chain('named', withRetry(tool('t', 'down'), { maxAttempts: 3, nonRetryableCodes: ['UNAVAILABLE'] })), {});
    assert.equal(named.run.status, RunStatus.RUN_STATUS_FAILED);
    assert.equal(named.run.steps[0]!.attempts, 1);
    const byDefault = await runToEnd(chain('default', withRetry(tool('t', 'bad'), { maxAttempts: 3 })), {});
    assert.equal(byDefault.run.steps[0]!.attempts, 1);
    const retried = await runToEnd(chain('retried', withRetry(tool('t', 'down'), { maxAttempts: 3 })), {});
    assert.equal(retried.run.steps[0]!.attempts, 3);
    assert.equal(tools.calls.length, 1 + 1 + 3);
  });

  it('ResumeRun re-runs a failed run from its failed step; completed steps are not run again', async () => {
    let broken = true;
    tools = new FakeToolRunner({
      echo: { impl: (input) => input },
      gate: { impl: () => { if (broken) throw new ElixirError(GrpcCode.FAILED_PRECONDITION, 'CLOSED', 'gate closed'); return { open: true }; } },
    });
    await executor.stop();
    executor = new ChainExecutor({ state, tools, agents, limits: { finishedRetentionMs: 1000 } });
    const { run } = await runToEnd(chain('resume', sequential('s', [tool('first', 'echo', '{"n": 1.0}'), tool('gate', 'gate'), transform('last', 'steps.gate.open')])), {});
    assert.equal(run.status, RunStatus.RUN_STATUS_FAILED);
    assert.equal(run.error?.message, 'gate closed');
    broken = false;
    await executor.runs.resume(run.id);
    for await (const _ of executor.runs.watch(run.id, 0, new AbortController().signal));
    const resumed = await executor.runs.get(run.id);
    assert.equal(resumed.status, RunStatus.RUN_STATUS_SUCCEEDED);
    assert.equal(resumed.output, true);
    assert.deepEqual(tools.calls.map((c) => c.tool), ['echo', 'gate', 'gate']);
    assert.equal(resumed.steps.find((s) => s.path === 'root/gate')!.attempts, 2);
    await assert.rejects(executor.runs.resume(run.id), (e: { code?: number }) => e.code === GrpcCode.FAILED_PRECONDITION);
  });

  // The output-commit rule, observed with a store whose writes can be held back.
  describe('durability: pure steps run ahead of their checkpoints, effects wait for them', () => {
    let gated: GatedStateStore;
    let releaseWait: () => void;
    /** The run's durable log as the echo tool saw it when it was called. */
    let logAtDispatch: RunEvent[] | undefined;
    let batchesAtDispatch = 0;
    let runId = '';

    beforeEach(async () => {
      await executor.stop();
      gated = new GatedStateStore();
      tools = new FakeToolRunner({
        wait: { impl: () => new Promise((resolve) => (releaseWait = () => resolve({ waited: true }))) },
        echo: { impl: async (input) => ((batchesAtDispatch = gated.batches), (logAtDispatch = await executor.checkpoints.loadEvents(runId, 0)), input) },
      });
      logAtDispatch = undefined;
      executor = new ChainExecutor({ state: gated, tools, agents, limits: { finishedRetentionMs: 1000 } });
    });

    const steps = [
      tool('wait', 'wait'),
      transform('a', '1.0'),
      transform('b', 'steps.a + 1.0'),
      transform('c', 'steps.b + 1.0'),
      tool('effect', 'echo', '{"c": steps.c}'),
      transform('last', 'steps.effect.c * 10.0'),
    ];
    const durableEvents = (runId: string) => executor.checkpoints.loadEvents(runId, 0);
    const paths = (events: RunEvent[], kind: 'stepStarted' | 'stepCompleted') =>
      events.flatMap((e) => (e.event?.$case === 'stepStarted' && kind === 'stepStarted' ? [e.event.stepStarted.path] : e.event?.$case === 'stepCompleted' && kind === 'stepCompleted' ? [e.event.stepCompleted.path] : []));

    it('a tool step is dispatched only once everything before it and its start are durable; nothing is seen before it is durable', async () => {
      await executor.definitions.create(chain('ahead', sequential('s', steps)), '');
      const { id } = await executor.runs.start('ahead', 0, {}, '');
      runId = id;
      await until(() => tools.calls.length === 1);
      gated.hold();
      const batchesBefore = gated.batches;
      releaseWait();
      // The transforms run on while their checkpoint is held back; the next tool step waits.
      await sleep(100);
      assert.equal(tools.calls.length, 1, 'the effect waits for durability');
      const seen = await executor.runs.get(id);
      assert.equal(seen.status, RunStatus.RUN_STATUS_RUNNING);
      assert.equal(seen.steps.find((s) => s.path === 'root/wait')!.status, StepStatus.STEP_STATUS_RUNNING, 'GetRun shows durable state only');
      assert.equal(seen.steps.find((s) => s.path === 'root/a'), undefined);
      gated.release();
      await until(() => logAtDispatch !== undefined);
      // When the effect is dispatched, its start and everything before it are in the store.
      assert.deepEqual(paths(logAtDispatch!, 'stepCompleted'), ['root/wait', 'root/a', 'root/b', 'root/c']);
      assert.equal(paths(logAtDispatch!, 'stepStarted').at(-1), 'root/effect');
      // wait's result, three transforms and the effect's start: one write of the run, not one per step.
      assert.equal(batchesAtDispatch - batchesBefore, 1);
      for await (const _ of executor.runs.watch(id, 0, new AbortController().signal));
      const done = await executor.runs.get(id);
      assert.equal(done.status, RunStatus.RUN_STATUS_SUCCEEDED);
      assert.equal(done.output, 30);
    });

    it('a run is reported finished only once its final checkpoint is durable', async () => {
      await executor.definitions.create(chain('finish', sequential('s', [tool('wait', 'wait'), transform('x', '42.0')])), '');
      const { id } = await executor.runs.start('finish', 0, {}, '');
      await until(() => tools.calls.length === 1);
      const watched: RunEvent[] = [];
      const watching = (async () => {
        for await (const e of executor.runs.watch(id, 0, new AbortController().signal)) watched.push(e);
      })();
      gated.hold();
      releaseWait();
      await sleep(100);
      const running = await executor.runs.get(id);
      assert.equal(running.status, RunStatus.RUN_STATUS_RUNNING);
      assert.equal(running.output, undefined);
      assert.ok(!watched.some((e) => e.event?.$case === 'runCompleted' || e.event?.$case === 'stepCompleted'), 'watchers see durable events only');
      assert.equal((await executor.runs.list({}, 10, '')).runs[0]!.status, RunStatus.RUN_STATUS_RUNNING);
      gated.release();
      await watching;
      assert.equal(watched.at(-1)!.event!.$case, 'runCompleted');
      const done = await executor.runs.get(id);
      assert.equal(done.status, RunStatus.RUN_STATUS_SUCCEEDED);
      assert.equal(done.output, 42);
      assert.deepEqual(watched.map((e) => e.sequence), watched.map((_, i) => i + 1));
    });

    it('a checkpoint too big for one row of memory is split into rows, in order', async () => {
      await executor.definitions.create(chain('big', sequential('s', Array.from({ length: 20 }, (_, i) => transform(`t${i}`, 'input.big')))), '');
      const big = 'x'.repeat(60_000);
      const { id } = await executor.runs.start('big', 0, { big }, '');
      for await (const _ of executor.runs.watch(id, 0, new AbortController().signal));
      assert.equal((await executor.runs.get(id)).output, big);
      const rows = (await gated.list(`run-events/${id}/`, 100, '')).entries;
      assert.ok(rows.length >= 2, `${rows.length} rows`);
      for (const row of rows) assert.ok(JSON.stringify(row.value).length <= 1_000_000);
      const log = await durableEvents(id);
      assert.deepEqual(log.map((e) => e.sequence), log.map((_, i) => i + 1));
      assert.equal(log.filter((e) => e.event?.$case === 'stepCompleted' && e.event.stepCompleted.output === big).length, 21);
    });

    it('a chain of transforms costs a couple of writes, not one per step', async () => {
      await executor.definitions.create(chain('count', sequential('s', Array.from({ length: 20 }, (_, i) => transform(`t${i}`, `${i}.0`)))), '');
      const before = gated.batches;
      const { id } = await executor.runs.start('count', 0, {}, '');
      for await (const _ of executor.runs.watch(id, 0, new AbortController().signal));
      assert.equal((await executor.runs.get(id)).output, 19);
      // The first checkpoint creates the record and carries what the run did by then; the rest is one more at most.
      assert.ok(gated.batches - before <= 2, `${gated.batches - before} batches for 20 steps`);
      const log = await durableEvents(id);
      assert.equal(paths(log, 'stepCompleted').length, 21);
      assert.deepEqual(log.map((e) => e.sequence), log.map((_, i) => i + 1));
    });

    it('a step started and completed within one row is stored as one tuple and reads back as both events', async () => {
      await executor.definitions.create(chain('merged', sequential('s', [transform('t0', '{"n": 1.0}'), transform('t1', 'steps.t0.n + 1.0')])), '');
      const { id } = await executor.runs.start('merged', 0, {}, '');
      const watched: RunEvent[] = [];
      for await (const e of executor.runs.watch(id, 0, new AbortController().signal)) watched.push(e);
      const rows = (await gated.list(`run-events/${id}/`, 100, '')).entries.map((r) => r.value as { bodies: unknown[] });
      const tuples = rows.flatMap((r) => r.bodies).filter((b): b is unknown[] => Array.isArray(b));
      assert.deepEqual(tuples.filter((b) => b[0] === 2).map((b) => b[1]), ['root', 'root/t0', 'root/t1']);
      // What a restart or another replica reads is exactly what the watcher saw: ids, attempts, outputs, durations, times.
      assert.deepEqual(await durableEvents(id), watched);
    });

    it('map items finishing interleaved are stored one tuple each and read back in sequence order', async () => {
      await executor.definitions.create(chain('items', mapReduce('m', transform('double', 'input * 2.0'), 4, { items: 'run.items' })), '');
      const { id } = await executor.runs.start('items', 0, { items: Array.from({ length: 12 }, (_, i) => i) }, '');
      const watched: RunEvent[] = [];
      for await (const e of executor.runs.watch(id, 0, new AbortController().signal)) watched.push(e);
      const rows = (await gated.list(`run-events/${id}/`, 100, '')).entries.map((r) => r.value as { bodies: unknown[] });
      const merged = rows.flatMap((r) => r.bodies).filter((b): b is unknown[] => Array.isArray(b) && b[0] === 2 && String(b[1]).includes('/map['));
      assert.equal(merged.length, 12);
      assert.ok(merged.some((b) => b[6] !== 1), 'some item results came after other events: stored with their distance');
      assert.ok(merged.every((b) => b[7] === 'double'), 'the id, which is not the last segment of an item path');
      assert.deepEqual(await durableEvents(id), watched);
    });
  });
});

describe('chain executor owning its definitions (no replicas)', () => {
  it('starts runs without reading the definition back, and always from the version it last wrote', async () => {
    const state = new CountingStateStore();
    const executor = new ChainExecutor({ state, tools: new FakeToolRunner({}), agents: new FakeAgentRunner(), ownsDefinitions: true, limits: { finishedRetentionMs: 1000 } });
    const outputOf = async () => {
      const { id } = await executor.runs.start('owned', 0, {}, '');
      for await (const _ of executor.runs.watch(id, 0, new AbortController().signal));
      return (await executor.runs.get(id)).output;
    };
    try {
      await executor.definitions.create(chain('owned', transform('v', '1.0')), '');
      assert.equal(await outputOf(), 1);
      assert.equal(await outputOf(), 1);
      assert.equal(state.reads('chains/owned'), 0, 'StartRun did not read the definition from the store');
      await executor.definitions.update(chain('owned', transform('v', '2.0')), [], undefined);
      assert.equal(await outputOf(), 2);
      await executor.definitions.delete('owned');
      await assert.rejects(executor.runs.start('owned', 0, {}, ''), (e: { name?: string }) => e.name === 'ChainNotFoundError');
    } finally {
      await executor.stop();
    }
    assert.throws(() => new ChainExecutor({ state, tools: new FakeToolRunner({}), agents: new FakeAgentRunner(), ownsDefinitions: true, leases: {} as never }), /replicas/);
  });
});

describe('chain executor: run records name a content-addressed snapshot of their chain', () => {
  it('writes each distinct definition once, keeps a run on the definition it started with, and reads records that hold the chain inline', async () => {
    const state = new RecordingStateStore();
    const executor = new ChainExecutor({ state, tools: new FakeToolRunner({}), agents: new FakeAgentRunner(), limits: { finishedRetentionMs: 1000 } });
    const runOnce = async () => {
      const { id } = await executor.runs.start('snap', 0, {}, '');
      for await (const _ of executor.runs.watch(id, 0, new AbortController().signal));
      return id;
    };
    const snapshotWrites = () => state.attempts.flat().filter((k) => k.startsWith('chain-snapshots/')).length;
    try {
      const v1 = chain('snap', sequential('s', [transform('a', '1.0'), transform('b', 'steps.a + 1.0')]));
      await executor.definitions.create(v1, '');
      const first = await runOnce();
      const second = await runOnce();
      assert.equal(snapshotWrites(), 1, 'the second run of the same definition carried no copy of it');
      const record = (await state.get(`runs/${first}`))!.value as { chain?: unknown; chainSnapshot?: string };
      assert.equal(record.chain, undefined);
      assert.match(record.chainSnapshot ?? '', /^chain-snapshots\//);
      assert.equal(((await state.get(`runs/${second}`))!.value as { chainSnapshot?: string }).chainSnapshot, record.chainSnapshot);

      await executor.definitions.update(chain('snap', transform('only', '7.0')), [], undefined);
      const third = await runOnce();
      assert.equal(snapshotWrites(), 2);
      assert.equal((await executor.runs.get(third)).output, 7);

      // Another process over the same state (a restart): each run reads back the definition it ran.
      const restarted = new ChainExecutor({ state, tools: new FakeToolRunner({}), agents: new FakeAgentRunner() });
      try {
        const before = await restarted.checkpoints.getRun(first);
        assert.equal(before?.chain.root?.kind?.$case, 'sequential');
        assert.equal((await restarted.checkpoints.getRun(third))?.chain.root?.id, 'only');
        // A record written before snapshots (the chain inline) still reads.
        const { chainSnapshot: _, ...legacy } = record;
        await state.put('runs/legacy', { ...legacy, id: 'legacy', chain: Chain.toJSON(before!.chain) });
        assert.deepEqual((await restarted.checkpoints.getRun('legacy'))?.chain, before?.chain);
      } finally {
        await restarted.stop();
      }
    } finally {
      await executor.stop();
    }
  });
});

/** Counts reads by key. */
class CountingStateStore extends InProcessStateStore {
  private readonly counts = new Map<string, number>();

  reads(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  override async get(key: string) {
    this.counts.set(key, this.reads(key) + 1);
    return super.get(key);
  }
}

describe('chain executor: a stale writer of a run cannot append to its log', () => {
  it('the checkpoint of an executor that lost a run to another fails alone; the other runs in its batch are written', async () => {
    const state = new RecordingStateStore();
    const agents = new FakeAgentRunner();
    const releases: Array<() => void> = [];
    const staleTools = new FakeToolRunner({ wait: { impl: (input) => new Promise((resolve) => releases.push(() => resolve({ by: 'stale', ...input }))) } });
    const stale = new ChainExecutor({ state, tools: staleTools, agents, limits: { finishedRetentionMs: 1000 } });
    const successor = new ChainExecutor({ state, tools: new FakeToolRunner({ wait: { impl: (input) => ({ by: 'successor', ...input }), idempotent: true } }), agents, limits: { finishedRetentionMs: 1000 } });
    try {
      await stale.definitions.create(chain('fenced', sequential('s', [tool('wait', 'wait', '{"n": run.n}'), transform('out', 'steps.wait.by')])), '');
      const lost = await stale.runs.start('fenced', 0, { n: 1 }, '');
      await until(() => releases.length === 1);
      // Another executor takes the run over (as after a lease expiry) and finishes it.
      assert.equal(await successor.recover(), 1);
      for await (const _ of successor.runs.watch(lost.id, 0, new AbortController().signal));
      assert.equal((await successor.runs.get(lost.id)).output, 'successor');
      const kept = await stale.runs.start('fenced', 0, { n: 2 }, '');
      await until(() => releases.length === 2);
      // Both of the stale executor's runs checkpoint in the same tick: one batch.
      for (const release of releases) release();
      for await (const _ of stale.runs.watch(kept.id, 0, new AbortController().signal));
      assert.equal((await stale.runs.get(kept.id)).output, 'stale');
      const shared = state.attempts.find((keys) => keys.some((k) => k.startsWith(`run-events/${lost.id}/`)) && keys.some((k) => k.startsWith(`run-events/${kept.id}/`)));
      assert.ok(shared, 'the two runs shared a batch');
      // The taken-over run's log is the successor's alone: nothing of the stale executor after the takeover.
      const log = await successor.checkpoints.loadEvents(lost.id, 0);
      assert.deepEqual(log.map((e) => e.sequence), log.map((_, i) => i + 1));
      const outputs = log.flatMap((e) => (e.event?.$case === 'stepCompleted' && e.event.stepCompleted.path === 'root/wait' ? [e.event.stepCompleted.output] : []));
      assert.deepEqual(outputs, [{ by: 'successor', n: 1 }]);
      assert.equal((await successor.runs.get(lost.id)).status, RunStatus.RUN_STATUS_SUCCEEDED);
    } finally {
      await stale.stop();
      await successor.stop();
    }
  });
});

/** An in-process store that records the keys of every batch it was asked to write, applied or not. */
class RecordingStateStore extends InProcessStateStore {
  readonly attempts: string[][] = [];

  override async batch(writes: StateWrite[]): Promise<void> {
    this.attempts.push(writes.map((w) => w.key));
    return super.batch(writes);
  }
}

/** An in-process store whose batch writes can be held back, to observe what waits for durability. */
class GatedStateStore extends InProcessStateStore {
  private gate: Promise<void> | undefined;
  private open: () => void = () => {};

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = undefined;
    this.open();
  }

  override async batch(writes: StateWrite[]): Promise<void> {
    if (this.gate) await this.gate;
    return super.batch(writes);
  }
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}
