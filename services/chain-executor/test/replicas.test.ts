import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ChainServiceDefinition, RunStatus } from '@elixirchain/proto/chain';
import type { RunEvent } from '@elixirchain/proto/chain';
import { connect, connectRedis, spawnService } from '@elixirchain/runtime';
import type { RedisConnection, SpawnedService } from '@elixirchain/runtime';
import { chain, sequential, tool, transform } from './support/chain-builders.js';
import { startChainMesh } from './support/chain-mesh.js';
import type { ChainMesh } from './support/chain-mesh.js';

const entry = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const REDIS_URL = process.env.ELIXIRCHAIN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Two chain-executor processes on one memory with leases in Redis: a run executes on one replica,
// the other forwards its watchers, and after kill -9 of the owner the survivor resumes the run.
describe('chain-executor replicas (leases in Redis, kill -9 of the owner)', function () {
  this.timeout(90_000);
  let mesh: ChainMesh;
  let redis: RedisConnection;
  let prefix: string;
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
        ELIXIRCHAIN_REDIS_URL: REDIS_URL,
        ELIXIRCHAIN_REDIS_PREFIX: prefix,
        ELIXIRCHAIN_LEASE_TTL_MS: '1500',
        ELIXIRCHAIN_TAKEOVER_SCAN_MS: '200',
      },
    });
    processes.push(child);
    return { child, client: connect(ChainServiceDefinition, child.address) };
  };

  before(async () => {
    mesh = await startChainMesh();
    redis = await connectRedis(REDIS_URL);
    prefix = `test-chain-replicas-${randomBytes(4).toString('hex')}:`;
  });
  after(async () => {
    for (const p of processes) await p.kill().catch(() => {});
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(keys);
    await redis.close();
    await mesh?.stop();
  });

  it('a watcher on the other replica follows the run live; after kill -9 of the owner the survivor finishes it once', async () => {
    const a = await startExecutor();
    const b = await startExecutor();
    await a.client.createChain({
      chain: chain('moving-run', sequential('main', [
        tool('first', 'sleep', '{"ms": 20.0, "tag": "first"}'),
        tool('slow', 'sleep', '{"ms": 2000.0, "tag": "slow"}'),
        tool('last', 'echo', '{"tag": "last"}'),
        transform('out', '[steps.first.tag, steps.slow.tag, steps.last.tag]'),
      ])),
      requestId: '',
    });
    const run = (await a.client.startRun({ chainId: 'moving-run', input: {}, requestId: '', chainVersion: 0 })).run!;
    const [holder] = await redis.mGet([`${prefix}lease:run/${run.id}`]);
    assert.ok(holder?.includes(a.child.address), 'a holds the run it started');
    // Watched through b: forwarded to a, live.
    const seen: RunEvent[] = [];
    const watching = (async () => {
      for await (const res of b.client.watchRun({ runId: run.id, afterSequence: 0 })) seen.push(res.event!);
    })().catch((e) => e);
    const callsOf = (path: string) => mesh.tools.callsFor(path).filter((id) => id.startsWith(`${run.id}:`));
    await until('the slow step to run', () => callsOf('root/slow').length > 0 || undefined);
    await until('b to relay a live event', () => seen.some((e) => e.event?.$case === 'stepStarted' && e.event.stepStarted.path === 'root/slow') || undefined);
    await a.child.kill();
    const done = await until('the survivor to finish the run', async () => {
      const r = (await b.client.getRun({ runId: run.id })).run!;
      return r.status === RunStatus.RUN_STATUS_SUCCEEDED || r.status === RunStatus.RUN_STATUS_FAILED ? r : undefined;
    });
    assert.equal(done.status, RunStatus.RUN_STATUS_SUCCEEDED, JSON.stringify(done.error));
    assert.deepEqual(done.output, ['first', 'slow', 'last']);
    assert.equal(callsOf('root/first').length, 1, 'the completed step was not re-run');
    assert.equal(callsOf('root/last').length, 1);
    // The whole log, read through the survivor: sequences have no gaps and no repeats.
    const log: RunEvent[] = [];
    for await (const res of b.client.watchRun({ runId: run.id, afterSequence: 0 })) log.push(res.event!);
    assert.deepEqual(log.map((e) => e.sequence), log.map((_, i) => i + 1));
    assert.equal(log.filter((e) => e.event?.$case === 'runStarted').length, 2, 'started on a, resumed on b');
    await watching;
    a.client.close();
    b.client.close();
  });
});
