import assert from 'node:assert/strict';
import { errors, GrpcCode, toRpcStatus } from '@elixirchain/runtime';
import type { ToolInvocation, ToolOutcome, ToolRunner } from '../src/ports/tool-runner.js';
import { invokeThroughSandboxRestarts } from '../src/turns/tool-call-retry.js';

/** A tool-sandbox that is unreachable (its process killed) for the first `down` invocations. */
function restartingSandbox(down: number, how: 'outcome' | 'throw' = 'outcome') {
  const calls: string[] = [];
  const runner: ToolRunner = {
    getTool: async () => {
      throw new Error('not used');
    },
    invoke: async (call: ToolInvocation): Promise<ToolOutcome> => {
      calls.push(call.callId);
      if (calls.length <= down) {
        const dropped = errors.unavailable('CONNECTION_DROPPED', 'Connection dropped');
        if (how === 'throw') throw dropped;
        return { ok: false, status: toRpcStatus(dropped), toolVersion: '' };
      }
      return { ok: true, output: { count: 42 }, toolVersion: '1.0.0' };
    },
  };
  return { runner, calls };
}

const call: ToolInvocation = { name: 'prime-counter', version: '*', input: { limit: 10 }, callId: 'call-1' };

describe('tool calls interrupted by a restart of tool-sandbox', () => {
  it('calls an idempotent tool again with the same call_id once the sandbox is back', async () => {
    const { runner, calls } = restartingSandbox(3);
    const retries: number[] = [];
    const outcome = await invokeThroughSandboxRestarts(runner, call, true, new AbortController().signal, () => {}, (n) => retries.push(n));
    assert.deepEqual(outcome, { ok: true, output: { count: 42 }, toolVersion: '1.0.0' });
    assert.deepEqual(calls, ['call-1', 'call-1', 'call-1', 'call-1']);
    assert.deepEqual(retries, [1, 2, 3]);
  });

  it('also when the runner throws UNAVAILABLE instead of reporting it', async () => {
    const { runner, calls } = restartingSandbox(1, 'throw');
    const outcome = await invokeThroughSandboxRestarts(runner, call, true, new AbortController().signal, () => {});
    assert.equal(outcome.ok, true);
    assert.equal(calls.length, 2);
  });

  it('does not call a tool that is not idempotent again: the model is told it may or may not have run', async () => {
    const { runner, calls } = restartingSandbox(1);
    const outcome = await invokeThroughSandboxRestarts(runner, { ...call, name: 'wipe' }, false, new AbortController().signal, () => {});
    assert.equal(calls.length, 1);
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.status.code, GrpcCode.UNAVAILABLE);
    assert.match(!outcome.ok ? outcome.status.message : '', /unreachable during the call \(Connection dropped\); wipe is not marked idempotent, so it was not retried and may or may not have run/);
  });

  it('stops waiting for the sandbox when the turn is stopped (its timeout)', async () => {
    const { runner } = restartingSandbox(Number.POSITIVE_INFINITY);
    const turn = new AbortController();
    setTimeout(() => turn.abort(new Error('turn exceeded its timeout')), 700);
    await assert.rejects(invokeThroughSandboxRestarts(runner, call, true, turn.signal, () => {}), /turn exceeded its timeout/);
  });

  it('passes a tool’s own failure through without retrying it', async () => {
    let n = 0;
    const runner: ToolRunner = {
      getTool: async () => {
        throw new Error('not used');
      },
      invoke: async () => {
        n += 1;
        return { ok: false, status: toRpcStatus(errors.invalidArgument('expression', 'unexpected "?"')), toolVersion: '1.0.0' };
      },
    };
    const outcome = await invokeThroughSandboxRestarts(runner, call, true, new AbortController().signal, () => {});
    assert.equal(n, 1);
    assert.equal(!outcome.ok && outcome.status.code, GrpcCode.INVALID_ARGUMENT);
  });
});
