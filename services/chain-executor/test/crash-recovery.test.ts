import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ChainServiceDefinition, RunStatus, StepStatus } from '@elixirchain/proto/chain';
import type { Run, RunEvent } from '@elixirchain/proto/chain';
import { connect, spawnService } from '@elixirchain/runtime';
import type { SpawnedService } from '@elixirchain/runtime';
import { chain, mapReduce, sequential, tool, transform } from './support/chain-builders.js';
import { startChainMesh } from './support/chain-mesh.js';
import type { ChainMesh } from './support/chain-mesh.js';
import { HoldingMemoryProxy } from './support/holding-memory-proxy.js';

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

// kill -9 while a run's pure steps are ahead of their checkpoint: the batch
// carrying them is held back by a proxy in front of memory and dropped with
// the killed process. The restart replays what is durable and re-derives the
// rest: same output, and each tool step ran once.
describe('chain executor crash recovery while pure steps ran ahead of their checkpoint', function () {
  this.timeout(90_000);
  const ITEMS = 1500;
  let mesh: ChainMesh;
  let proxy: HoldingMemoryProxy;
  const processes: SpawnedService[] = [];

  const startExecutor = async () => {
    const child = await spawnService({
      entry,
      env: {
        ELIXIRCHAIN_CHAIN_EXECUTOR_ADDR: '127.0.0.1:0',
        ELIXIRCHAIN_MEMORY_ADDR: proxy.address,
        ELIXIRCHAIN_TOOL_SANDBOX_ADDR: mesh.toolAddress,
        ELIXIRCHAIN_AGENT_HOST_ADDR: mesh.agentAddress,
        ELIXIRCHAIN_DATA_DIR: mesh.dataDir,
      },
    });
    processes.push(child);
    return { child, client: connect(ChainServiceDefinition, child.address) };
  };

  before(async () => {
    mesh = await startChainMesh();
    proxy = await HoldingMemoryProxy.start(mesh.memoryAddress);
  });
  after(async () => {
    for (const p of processes) await p.kill().catch(() => {});
    await proxy?.stop();
    await mesh?.stop();
  });

  it('completes with the same output after the restart; each tool step ran once', async () => {
    const first = await startExecutor();
    // Neither tool is idempotent: had either been left in doubt, the run would pause instead of completing.
    await first.client.createChain({
      chain: chain('run-ahead', sequential('main', [
        tool('a', 'sleep-once', '{"ms": 10.0, "tag": "a"}'),
        mapReduce('items', transform('double', 'input * 2.0'), 16, { items: 'run.items' }),
        tool('d', 'sleep-once', '{"ms": 1.0, "tag": "d"}'),
        transform('e', '[steps.a.tag, steps.d.tag, size(steps.items), steps.items[size(steps.items) - 1]]'),
      ])),
      requestId: '',
    });
    // Hold every batch after the first one that carried map items: with more than
    // MAX_UNDURABLE_EVENTS events the run waits once for its checkpoint (so `a`'s result
    // is durable), then runs the remaining items ahead into a batch that never lands.
    // A step result alone ([1, path, …]) or with its start ([2, path, …]).
    const isItemResult = (b: unknown) => Array.isArray(b) && (b[0] === 1 || b[0] === 2) && String(b[1]).includes('/map[');
    proxy.holdFrom = (rows) => rows.some((r) => r.bodies.some(isItemResult));
    const items = Array.from({ length: ITEMS }, (_, i) => i);
    const run = (await first.client.startRun({ chainId: 'run-ahead', input: { items }, requestId: '', chainVersion: 0 })).run!;
    const callsOf = (path: string) => mesh.tools.callsFor(path).filter((id) => id.startsWith(`${run.id}:`));
    await until('a batch of pure steps to be held back', () => proxy.dropped.length > 0 || undefined);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(callsOf('root/d').length, 0, 'the tool after the pure steps waits for their checkpoint');
    await first.child.kill();
    first.client.close();

    const lost = proxy.dropped.flat().flatMap((r) => r.bodies);
    const lostItems = lost.filter(isItemResult).map((b) => (b as unknown[])[1] as string);
    assert.ok(lostItems.length > 0, 'map items completed ahead of their checkpoint were lost with the process');
    assert.ok(!lost.some((b) => Array.isArray(b) && (b[0] === 1 || b[0] === 2) && (b[1] === 'root/a' || b[1] === 'root/d')), 'no tool result was in the lost batch');

    proxy.holding = false;
    proxy.holdFrom = () => false;
    const { client } = await startExecutor();
    try {
      const done = await until('the run to finish', async () => {
        const r = (await client.getRun({ runId: run.id })).run!;
        return r.status !== RunStatus.RUN_STATUS_RUNNING && r.status !== RunStatus.RUN_STATUS_PENDING ? r : undefined;
      });
      assert.equal(done.status, RunStatus.RUN_STATUS_SUCCEEDED, JSON.stringify(done.error));
      assert.deepEqual(done.output, ['a', 'd', ITEMS, (ITEMS - 1) * 2]);
      for (const path of ['root/a', 'root/d']) {
        assert.equal(callsOf(path).length, 1, path);
        assert.equal(mesh.tools.started.get(callsOf(path)[0]!), 1, path);
      }
      // The durable log: every item completed once, the lost ones after the restart; no sequence lost or repeated.
      const log: RunEvent[] = [];
      for await (const res of client.watchRun({ runId: run.id, afterSequence: 0 })) log.push(res.event!);
      const restartedAt = log.filter((e) => e.event?.$case === 'runStarted')[1]!.sequence;
      const completions = log.flatMap((e) => (e.event?.$case === 'stepCompleted' ? [[e.event.stepCompleted.path, e.sequence] as const] : []));
      const itemCompletions = completions.filter(([path]) => path.includes('/map['));
      assert.equal(itemCompletions.length, ITEMS);
      assert.equal(new Set(itemCompletions.map(([path]) => path)).size, ITEMS);
      for (const path of lostItems) assert.ok(completions.find(([p]) => p === path)![1] > restartedAt, `${path} re-derived after the restart`);
      assert.deepEqual(log.map((e) => e.sequence), log.map((_, i) => i + 1));
    } finally {
      client.close();
    }
  });
});
