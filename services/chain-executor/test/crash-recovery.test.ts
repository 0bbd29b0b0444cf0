import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ChainServiceDefinition, RunStatus, StepStatus } from '@elixirchain/proto/chain';
import type { Run, RunEvent } from '@elixirchain/proto/chain';
import { connect, spawnService } from '@elixirchain/runtime';
import type { SpawnedService } from '@elixirchain/runtime';
import { chain, sequential, tool, transform } from './support/chain-builders.js';
import { startChainMesh } from './support/chain-mesh.js';
import type { ChainMesh } from './support/chain-mesh.js';

const entry = fileURLToPath(new URL('../src/main.ts', import.meta.url));

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// kill -9 of a real chain-executor process in the middle of two runs, then a
// restart over the same memory: each run picks up where its checkpoints left it.
describe('chain executor crash recovery (kill -9 of a real process)', function () {
  this.timeout(90_000);
  let mesh: ChainMesh;
  const processes: SpawnedService[] = [];

  const startExecutor = async () => {
    const child = await spawnService({
      entry,
      env: {
        ELIXIRCHAIN_CHAIN_EXECUTOR_ADDR: '127.0.0.1:0',
        ELIXIRCHAIN_MEMORY_ADDR: mesh.memoryAddress,
        ELIXIRCHAIN_TOOL_SANDBOX_ADDR: mesh.toolAddress,
        ELIXIRCHAIN_AGENT_HOST_ADDR: mesh.agentAddress,
        ELIXIRCHAIN_DATA_DIR: mesh.dataDir,
      },
    });
    processes.push(child);
    return { child, client: connect(ChainServiceDefinition, child.address) };
  };

  const chainWithSlowStep = (chainId: string, slowTool: string) =>
    chain(chainId, sequential('main', [
      tool('a', 'sleep', '{"ms": 20.0, "tag": "a"}'),
      tool('b', 'echo', '{"tag": "b"}'),
      tool('slow', slowTool, '{"ms": 3000.0, "tag": "slow"}'),
      tool('d', 'echo', '{"tag": "d"}'),
      transform('e', '[steps.a.tag, steps.b.tag, steps.slow.tag, steps.d.tag]'),
    ]));

  let client: ReturnType<typeof connect<typeof ChainServiceDefinition>>;
  // One run whose slow tool is idempotent, one whose slow tool is not.
  let safeRun: Run;
  let unsafeRun: Run;
  const callsOf = (runId: string, path: string) => mesh.tools.callsFor(path).filter((id) => id.startsWith(`${runId}:`));
  const startedCount = (id: string) => mesh.tools.started.get(id) ?? 0;

  // Both runs are started, the executor is killed (-9) once both slow steps are inside the sandbox, and restarted.
  before(async () => {
    mesh = await startChainMesh();
    const first = await startExecutor();
    await first.client.createChain({ chain: chainWithSlowStep('crash-idempotent', 'sleep'), requestId: '' });
    await first.client.createChain({ chain: chainWithSlowStep('crash-unsafe', 'sleep-once'), requestId: '' });
    safeRun = (await first.client.startRun({ chainId: 'crash-idempotent', input: {}, requestId: '', chainVersion: 0 })).run!;
    unsafeRun = (await first.client.startRun({ chainId: 'crash-unsafe', input: {}, requestId: '', chainVersion: 0 })).run!;
    await until('both slow steps to be running in the sandbox', () => (callsOf(safeRun.id, 'root/slow').length > 0 && callsOf(unsafeRun.id, 'root/slow').length > 0) || undefined);
    first.client.close();
    await first.child.kill();
    client = (await startExecutor()).client;
  });
  after(async () => {
    client?.close();
    for (const p of processes) await p.kill().catch(() => {});
    await mesh?.stop();
  });

  const events = async (client: ReturnType<typeof connect<typeof ChainServiceDefinition>>, runId: string) => {
    const out: RunEvent[] = [];
    for await (const res of client.watchRun({ runId, afterSequence: 0 })) out.push(res.event!);
    return out;
  };

  it('resumes the run after a restart; each step completed before the crash ran once', async () => {
    const run = safeRun;
    const done = await until('the run to finish', async () => {
      const r = (await client.getRun({ runId: run.id })).run!;
      return r.status === RunStatus.RUN_STATUS_SUCCEEDED || r.status === RunStatus.RUN_STATUS_FAILED ? r : undefined;
    });
    assert.equal(done.status, RunStatus.RUN_STATUS_SUCCEEDED, JSON.stringify(done.error));
    assert.deepEqual(done.output, ['a', 'b', 'slow', 'd']);
    // Observed at the sandbox: completed steps were not called again.
    for (const path of ['root/a', 'root/b', 'root/d']) {
      assert.equal(callsOf(run.id, path).length, 1, path);
      assert.equal(startedCount(callsOf(run.id, path)[0]!), 1, path);
    }
    // The in-doubt step's tool is idempotent: it was re-run (same attempt, same call id).
    assert.equal(startedCount(callsOf(run.id, 'root/slow')[0]!), 2);
    // And in the durable log: one start per completed step, the run started twice, no sequence lost or repeated.
    const log = await events(client, run.id);
    const starts = (path: string) => log.filter((e) => e.event?.$case === 'stepStarted' && e.event.stepStarted.path === path).length;
    assert.equal(starts('root/a'), 1);
    assert.equal(starts('root/b'), 1);
    assert.equal(log.filter((e) => e.event?.$case === 'runStarted').length, 2);
    assert.deepEqual(log.map((e) => e.sequence), log.map((_, i) => i + 1));
  });

  it('pauses instead of re-running a non-idempotent tool call whose outcome is unknown; ResumeRun finishes it', async () => {
    const run = unsafeRun;
    const paused: Run = await until('the run to pause', async () => {
      const r = (await client.getRun({ runId: run.id })).run!;
      return r.status === RunStatus.RUN_STATUS_PAUSED ? r : undefined;
    });
    const slow = paused.steps.find((s) => s.path === 'root/slow')!;
    assert.equal(slow.status, StepStatus.STEP_STATUS_FAILED);
    assert.match(slow.error!.message, /outcome was not recorded/);
    assert.equal(startedCount(callsOf(run.id, 'root/slow')[0]!), 1, 'the unsafe call was not repeated');
    const resumed = (await client.resumeRun({ runId: run.id, requestId: '' })).run!;
    assert.ok(resumed.status === RunStatus.RUN_STATUS_PENDING || resumed.status === RunStatus.RUN_STATUS_RUNNING || resumed.status === RunStatus.RUN_STATUS_SUCCEEDED);
    const done = await until('the resumed run to finish', async () => {
      const r = (await client.getRun({ runId: run.id })).run!;
      return r.status === RunStatus.RUN_STATUS_SUCCEEDED || r.status === RunStatus.RUN_STATUS_FAILED ? r : undefined;
    });
    assert.equal(done.status, RunStatus.RUN_STATUS_SUCCEEDED, JSON.stringify(done.error));
    assert.equal(callsOf(run.id, 'root/slow').length, 2, 'ResumeRun ran the step again as a new attempt');
    assert.equal(callsOf(run.id, 'root/a').length, 1);
  });
});
