import assert from 'node:assert/strict';
import { Aggregation, ChainServiceDefinition, RunStatus, StepStatus } from '@elixirchain/proto/chain';
import type { Chain, RunEvent } from '@elixirchain/proto/chain';
import { connect, ElixirError, GrpcCode } from '@elixirchain/runtime';
import type { ServiceClient } from '@elixirchain/runtime';
import { AgentServiceDefinition, TurnStatus } from '@elixirchain/proto/agent';
import { agentThreadId } from '../src/execution/step-interpreter.js';
import { startChainExecutorServer } from '../src/index.js';
import type { ChainExecutorServer } from '../src/index.js';
import { agent, chain, conditional, mapReduce, parallel, pipeline, sequential, tool, transform, withRetry, withTimeout } from './support/chain-builders.js';
import { startChainMesh } from './support/chain-mesh.js';
import type { ChainMesh } from './support/chain-mesh.js';

type ChainClient = ServiceClient<typeof ChainServiceDefinition>;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rejection(promise: Promise<unknown>): Promise<ElixirError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ElixirError, `expected an ElixirError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

// The chain executor over real services: memory (SQLite) for definitions and
// checkpoints, tool-sandbox running real isolated tools (seen through an
// observing proxy), and agent-host running scripted-model agents.
describe('chain executor over real services', function () {
  this.timeout(60_000);
  let mesh: ChainMesh;
  let ce: ChainExecutorServer;
  let client: ChainClient;

  before(async () => {
    mesh = await startChainMesh();
    ce = await startChainExecutorServer({ address: '127.0.0.1:0', memoryAddress: mesh.memoryAddress, toolSandboxAddress: mesh.toolAddress, agentHostAddress: mesh.agentAddress });
    client = connect(ChainServiceDefinition, ce.address);
  });
  after(async () => {
    client?.close();
    await ce?.stop();
    await mesh?.stop();
  });

  async function define(c: Chain): Promise<void> {
    await client.createChain({ chain: c, requestId: '' });
  }

  async function runChain(chainId: string, input: unknown): Promise<{ events: RunEvent[]; runId: string }> {
    const events: RunEvent[] = [];
    for await (const res of client.runChain({ chainId, input, requestId: '', chainVersion: 0 })) events.push(res.event!);
    return { events, runId: events[0]!.runId };
  }

  const stepStates = async (runId: string) => Object.fromEntries((await client.getRun({ runId })).run!.steps.map((s) => [s.path, s]));

  it('rejects a malformed definition with INVALID_ARGUMENT naming the step field', async () => {
    const bad = chain('bad', sequential('main', [transform('a', '1.0'), tool('b', 'echo'), transform('c', 'input.x +')]));
    const error = await rejection(client.createChain({ chain: bad, requestId: '' }));
    assert.equal(error.code, GrpcCode.INVALID_ARGUMENT);
    assert.equal(error.reason, 'INVALID_CHAIN');
    assert.equal(error.fieldViolations.length, 1);
    assert.equal(error.fieldViolations[0]!.field, 'chain.root.sequential.steps[2].transform.expression');
    const quorum = await rejection(client.createChain({ chain: chain('q', parallel('p', [transform('a', '1'), transform('b', '2')], Aggregation.AGGREGATION_QUORUM, 5)), requestId: '' }));
    assert.deepEqual(quorum.fieldViolations.map((v) => v.field), ['chain.root.parallel.quorum']);
  });

  it('warns about tools and agents that do not exist, and keeps versions', async () => {
    const res = await client.createChain({ chain: chain('warned', sequential('main', [tool('t', 'no-such-tool'), agent('a', 'no-such-agent')])), requestId: '' });
    assert.equal(res.chain!.version, 1);
    assert.equal(res.warnings.length, 2);
    assert.match(res.warnings[0]!, /no-such-tool.*not registered/);
    assert.match(res.warnings[1]!, /no-such-agent.*does not exist/);
    const updated = await client.updateChain({ chain: { ...res.chain!, root: transform('t', '2.0') }, updateMask: ['root'], expectedVersion: 1, requestId: '' });
    assert.equal(updated.chain!.version, 2);
    assert.equal((await client.getChain({ id: 'warned', version: 1 })).chain!.root!.id, 'main');
    assert.equal((await client.getChain({ id: 'warned', version: 0 })).chain!.root!.id, 't');
    const stale = await rejection(client.updateChain({ chain: res.chain!, updateMask: [], expectedVersion: 1, requestId: '' }));
    assert.equal(stale.code, GrpcCode.ABORTED);
  });

  it('sequential: a real tool step then a transform, streamed and checkpointed', async () => {
    await define(chain('seq', sequential('main', [tool('call', 'echo', '{"greeting": "hi " + input.name}'), transform('shout', 'steps.call.greeting.upperAscii()')])));
    const { events, runId } = await runChain('seq', { name: 'ada' });
    assert.equal(events.at(-1)!.event?.$case, 'runCompleted');
    assert.deepEqual(events.map((e) => e.sequence), events.map((_, i) => i + 1));
    const run = (await client.getRun({ runId })).run!;
    assert.equal(run.status, RunStatus.RUN_STATUS_SUCCEEDED);
    assert.equal(run.output, 'HI ADA');
    assert.ok(run.steps.every((s) => s.status === StepStatus.STEP_STATUS_SUCCEEDED && s.startTime && s.endTime));
  });

  it('parallel first: the fastest branch wins and the losing tool calls are cancelled', async () => {
    await define(chain('race', parallel('race', [tool('fast', 'sleep', '{"ms": 50.0, "tag": "fast"}'), tool('slow1', 'sleep', '{"ms": 20000.0}'), tool('slow2', 'sleep', '{"ms": 20000.0}')], Aggregation.AGGREGATION_FIRST)));
    const started = Date.now();
    const { runId } = await runChain('race', {});
    assert.ok(Date.now() - started < 15_000);
    const run = (await client.getRun({ runId })).run!;
    assert.equal((run.output as { tag: string }).tag, 'fast');
    const states = await stepStates(runId);
    assert.equal(states['root/slow1']!.status, StepStatus.STEP_STATUS_CANCELLED);
    assert.equal(states['root/slow2']!.status, StepStatus.STEP_STATUS_CANCELLED);
    // Seen at the sandbox's door: both losing calls were cancelled by the executor.
    await until('loser calls cancelled', () => [...mesh.tools.callsFor('root/slow1'), ...mesh.tools.callsFor('root/slow2')].every((id) => mesh.tools.cancelled.has(id)));
    assert.equal(mesh.tools.callsFor('root/slow1').length, 1);
  });

  it('conditional picks the branch by CEL', async () => {
    await define(chain('route', conditional('route', [['input.n > 10.0', tool('big', 'echo', '{"size": "big"}')], ['input.n > 5.0', transform('mid', '"mid"')]], transform('small', '"small"'))));
    const outputs = [];
    for (const n of [20, 7, 1]) {
      const { runId } = await runChain('route', { n });
      outputs.push((await client.getRun({ runId })).run!.output);
    }
    assert.deepEqual(outputs, [{ size: 'big' }, 'mid', 'small']);
  });

  it('pipeline: tool → agent → transform, each stage fed the previous output', async () => {
    // The scripted agent always answers "echo: hello world".
    await define(chain('pipe', pipeline('pipe', [tool('fetch', 'echo', '{"text": input}'), ['input.text', agent('ask', 'echo')], transform('len', 'size(input)')])));
    const { runId, events } = await runChain('pipe', 'hello world');
    const run = (await client.getRun({ runId })).run!;
    assert.equal(run.status, RunStatus.RUN_STATUS_SUCCEEDED);
    assert.equal(run.output, 'echo: hello world'.length);
    const text = events.flatMap((e) => (e.event?.$case === 'stepProgress' ? [e.event.stepProgress.textDelta] : [])).join('');
    assert.equal(text, 'echo: hello world');
  });

  it('map_reduce: never more tool calls in flight than its concurrency (observed at the sandbox)', async () => {
    mesh.tools.maxInFlight = 0;
    await define(chain('fan', mapReduce('fan', tool('work', 'sleep', '{"ms": 150.0, "tag": string(input)}'), 3, { items: 'input.items', reduceExpression: 'results.map(r, r.tag)' })));
    const { runId } = await runChain('fan', { items: [1, 2, 3, 4, 5, 6, 7, 8, 9] });
    const run = (await client.getRun({ runId })).run!;
    assert.equal(run.status, RunStatus.RUN_STATUS_SUCCEEDED);
    assert.deepEqual(run.output, ['1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(mesh.tools.maxInFlight, 3);
  });

  it('a step timeout fails the run with DEADLINE_EXCEEDED; a retried step succeeds on its third attempt', async () => {
    await define(chain('slowpoke', withTimeout(tool('wait', 'sleep', '{"ms": 20000.0}'), 300)));
    const timed = await runChain('slowpoke', {});
    const failed = timed.events.at(-1)!;
    assert.equal(failed.event?.$case, 'runFailed');
    assert.equal(failed.event?.$case === 'runFailed' && failed.event.runFailed.error?.code, GrpcCode.DEADLINE_EXCEEDED);
    assert.equal(failed.event?.$case === 'runFailed' && failed.event.runFailed.failedPath, 'root');

    await define(chain('retry', withRetry(tool('flaky', 'flaky'), { maxAttempts: 3, nonRetryableCodes: [] })));
    const retried = await runChain('retry', {});
    const run = (await client.getRun({ runId: retried.runId })).run!;
    assert.equal(run.status, RunStatus.RUN_STATUS_SUCCEEDED, JSON.stringify(run.error));
    assert.deepEqual(run.output, { attempt: 3 });
    assert.equal(run.steps[0]!.attempts, 3);
    assert.equal(mesh.tools.callsFor('root').filter((id) => id.startsWith(retried.runId)).length, 3);
  });

  it('CancelRun stops the running tool call and agent turn', async () => {
    await define(chain('long', parallel('both', [tool('wait', 'sleep', '{"ms": 30000.0}'), agent('talk', 'slow', '"go"')])));
    const { run } = await client.startRun({ chainId: 'long', input: {}, requestId: 'cancel-me', chainVersion: 0 });
    const watched = client.watchRun({ runId: run!.id, afterSequence: 0 })[Symbol.asyncIterator]();
    // Wait until the agent is talking (its text reaches the run) and the tool call is inside the sandbox.
    for (;;) {
      const next = await watched.next();
      assert.ok(!next.done, 'run ended before the agent talked');
      if (next.value.event?.event?.$case === 'stepProgress' && next.value.event.event.stepProgress.path === 'root/talk') break;
    }
    await until('tool call running', () => mesh.tools.callsFor('root/wait').some((id) => id.startsWith(run!.id)));
    const cancelled = (await client.cancelRun({ runId: run!.id, reason: 'no longer needed', requestId: '' })).run!;
    await watched.return?.();
    assert.equal(cancelled.status, RunStatus.RUN_STATUS_CANCELLED);
    await until('tool call cancelled', () => mesh.tools.callsFor('root/wait').filter((id) => id.startsWith(run!.id)).every((id) => mesh.tools.cancelled.has(id)));
    // The agent turn itself was cancelled in agent-host (CancelTurn), not just our stream to it.
    const agents = connect(AgentServiceDefinition, mesh.agentAddress);
    try {
      await until('agent turn cancelled', async () => {
        const thread = (await agents.getThread({ threadId: agentThreadId(run!.id, 'root/talk') })).thread!;
        return thread.currentTurnId === '' || thread.currentTurnStatus === TurnStatus.TURN_STATUS_CANCELLED;
      });
      const turnEnds: TurnStatus[] = [];
      for await (const res of agents.watchThread({ threadId: agentThreadId(run!.id, 'root/talk'), afterSequence: 0, follow: false })) {
        if (res.event?.event?.$case === 'turnCompleted') turnEnds.push(res.event.event.turnCompleted.status);
      }
      assert.deepEqual(turnEnds, [TurnStatus.TURN_STATUS_CANCELLED]);
    } finally {
      agents.close();
    }
    const states = await stepStates(run!.id);
    assert.equal(states['root/wait']!.status, StepStatus.STEP_STATUS_CANCELLED);
    assert.equal(states['root/talk']!.status, StepStatus.STEP_STATUS_CANCELLED);
  });

  it('a run whose agent turn waits for an approval is PAUSED until ResolveApproval, then completes', async () => {
    await define(chain('approve', agent('ask', 'guarded', '"please echo"')));
    const { run } = await client.startRun({ chainId: 'approve', input: {}, requestId: '', chainVersion: 0 });
    await until('the run to pause', async () => (await client.getRun({ runId: run!.id })).run!.status === RunStatus.RUN_STATUS_PAUSED);
    const early = await rejection(client.resumeRun({ runId: run!.id, requestId: '' }));
    assert.equal(early.code, GrpcCode.FAILED_PRECONDITION);
    assert.equal(early.reason, 'APPROVAL_PENDING');
    const agents = connect(AgentServiceDefinition, mesh.agentAddress);
    try {
      const threadId = agentThreadId(run!.id, 'root');
      const pending = (await agents.getThread({ threadId })).thread!.pendingApprovals;
      assert.equal(pending.length, 1);
      await agents.resolveApproval({ threadId, approvalId: pending[0]!.approvalId, approve: true, reason: '', requestId: '' });
    } finally {
      agents.close();
    }
    await until('the run to finish', async () => (await client.getRun({ runId: run!.id })).run!.status === RunStatus.RUN_STATUS_SUCCEEDED);
    const events: RunEvent[] = [];
    for await (const res of client.watchRun({ runId: run!.id, afterSequence: 0 })) events.push(res.event!);
    assert.deepEqual(events.filter((e) => ['runPaused', 'runStarted', 'runCompleted'].includes(e.event!.$case)).map((e) => e.event!.$case), ['runStarted', 'runPaused', 'runStarted', 'runCompleted']);
    assert.equal((await client.getRun({ runId: run!.id })).run!.output, 'approved and done');
  });

  it('WatchRun re-attaches after a sequence and misses nothing; StartRun is idempotent by request_id', async () => {
    await define(chain('watch', sequential('main', [tool('a', 'sleep', '{"ms": 20.0}'), tool('b', 'sleep', '{"ms": 20.0}'), transform('c', '1.0')])));
    const first = (await client.startRun({ chainId: 'watch', input: {}, requestId: 'same', chainVersion: 0 })).run!;
    const again = (await client.startRun({ chainId: 'watch', input: {}, requestId: 'same', chainVersion: 0 })).run!;
    assert.equal(first.id, again.id);
    const all: RunEvent[] = [];
    for await (const res of client.watchRun({ runId: first.id, afterSequence: 0 })) all.push(res.event!);
    const tail: RunEvent[] = [];
    for await (const res of client.watchRun({ runId: first.id, afterSequence: 4 })) tail.push(res.event!);
    assert.deepEqual(tail.map((e) => e.sequence), all.slice(4).map((e) => e.sequence));
    assert.equal(all.at(-1)!.event?.$case, 'runCompleted');
  });

  it('ListRuns filters by chain and status and pages', async () => {
    for (let i = 0; i < 3; i++) await runChain('watch', {});
    const seen = new Set<string>();
    let pageToken = '';
    do {
      const page = await client.listRuns({ chainId: 'watch', status: RunStatus.RUN_STATUS_SUCCEEDED, pageSize: 2, pageToken });
      assert.ok(page.runs.length <= 2);
      for (const r of page.runs) {
        assert.equal(r.chainId, 'watch');
        seen.add(r.id);
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    assert.equal(seen.size, 4);
    const badToken = await rejection(client.listRuns({ chainId: '', status: 0, pageSize: 2, pageToken: 'garbage' }));
    assert.equal(badToken.code, GrpcCode.INVALID_ARGUMENT);
  });

  it('answers RESOURCE_EXHAUSTED with RetryInfo when the run queue is full', async () => {
    const small = await startChainExecutorServer({
      address: '127.0.0.1:0', memoryAddress: mesh.memoryAddress, toolSandboxAddress: mesh.toolAddress, agentHostAddress: mesh.agentAddress,
      limits: { maxActiveRuns: 1, maxQueuedRuns: 1 },
    });
    const c = connect(ChainServiceDefinition, small.address);
    try {
      await c.createChain({ chain: chain('hold', tool('wait', 'sleep', '{"ms": 2000.0}')), requestId: '' });
      await c.startRun({ chainId: 'hold', input: {}, requestId: '', chainVersion: 0 });
      await c.startRun({ chainId: 'hold', input: {}, requestId: '', chainVersion: 0 });
      const full = await rejection(c.startRun({ chainId: 'hold', input: {}, requestId: '', chainVersion: 0 }));
      assert.equal(full.code, GrpcCode.RESOURCE_EXHAUSTED);
      assert.equal(full.reason, 'RUN_QUEUE_FULL');
      assert.ok((full.retryAfterMs ?? 0) > 0);
    } finally {
      c.close();
      await small.stop();
    }
  });
});
