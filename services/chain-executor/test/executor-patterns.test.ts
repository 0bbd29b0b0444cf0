import assert from 'node:assert/strict';
import { Aggregation, RunStatus, StepStatus } from '@elixirchain/proto/chain';
import type { Chain, RunEvent } from '@elixirchain/proto/chain';
import { ChainExecutor } from '../src/chain-executor.js';
import { InProcessStateStore } from '../src/storage/in-process-state-store.js';
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

  it('checkpoints each transform step with one batch write', async () => {
    const before = state.batches;
    await runToEnd(chain('count', sequential('s', [transform('a', '1'), transform('b', '2'), transform('c', '3')])), {});
    // create-chain batch + run start + 3 steps + sequential + run end.
    assert.equal(state.batches - before, 1 + 1 + 3 + 1 + 1);
  });
});
