import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '@elixirchain/runtime';
import { Launcher } from '../src/launcher/launcher.js';
import { checkHealth } from '../src/launcher/health-probe.js';
import { SERVICE_NAMES, type ServiceName } from '../src/launcher/service-catalog.js';
import { isAlive, meshEnv } from './support/free-ports.js';

const FAKE_SERVICE = fileURLToPath(new URL('./fixtures/fake-service.ts', import.meta.url));

describe('launcher (stand-in services)', function () {
  this.timeout(90_000);
  let dataDir: string;
  let launcher: Launcher | undefined;
  const lines: string[] = [];

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'elixirchain-launcher-'));
    lines.length = 0;
  });
  afterEach(async () => {
    await launcher?.stop();
    launcher = undefined;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function launch(extraEnv: Record<string, string> = {}, options: Partial<ConstructorParameters<typeof Launcher>[0]> = {}) {
    const env = { ...process.env, ...(await meshEnv()), ...extraEnv };
    launcher = new Launcher({ env, dataDir, entryFor: () => FAKE_SERVICE, print: (l) => lines.push(l), graceMs: 5000, ...options });
    return launcher;
  }

  function incarnations(name: ServiceName): number[] {
    const log = path.join(dataDir, 'pids.log');
    if (!fs.existsSync(log)) return [];
    return fs.readFileSync(log, 'utf8').trim().split('\n').filter((l) => l.startsWith(`${name} `)).map((l) => Number(l.split(' ')[1]));
  }

  it('starts the four services in order, each SERVING where told, and drains them all on stop, idempotently', async () => {
    const l = await launch();
    const mesh = await l.start();
    assert.equal(l.state, 'running');
    for (const name of SERVICE_NAMES) {
      assert.equal((await checkHealth(mesh.addresses[name])).status, 'SERVING', name);
      assert.ok(mesh.pids[name] && isAlive(mesh.pids[name]!), `${name} has a live pid`);
    }
    assert.deepEqual(lines.map((line) => line.split(/\s+/)[0]), ['memory', 'tool-sandbox', 'agent-host', 'chain-executor']);
    assert.ok(fs.existsSync(path.join(dataDir, 'logs', 'memory.log')), 'service logs go to <data>/logs');

    const [a, b] = [l.stop(0, 'first SIGTERM'), l.stop(0, 'second SIGTERM')];
    assert.equal(a, b, 'a second stop joins the first');
    assert.deepEqual(await a, { exitCode: 0, reason: 'first SIGTERM' });
    for (const name of SERVICE_NAMES) assert.ok(!isAlive(mesh.pids[name]!), `${name} is gone`);
    const drained = fs.readFileSync(path.join(dataDir, 'drained.log'), 'utf8').trim().split('\n').map((line) => line.split(' ')[0]);
    assert.deepEqual(drained, ['chain-executor', 'agent-host', 'tool-sandbox', 'memory'], 'each got SIGTERM and drained, newest first');
  });

  it('kills a service that does not drain within the grace period', async () => {
    const l = await launch({ FAKE_STUBBORN: 'memory' }, { graceMs: 500 });
    const mesh = await l.start();
    await l.stop();
    assert.ok(!isAlive(mesh.pids.memory!), 'SIGKILL ended the stubborn service');
  });

  it('restarts a service killed with SIGKILL on its address, alone; gives up when it crash-loops', async () => {
    const l = await launch({}, { maxRestarts: 2, restartPeriodMs: 60_000 });
    const mesh = await l.start();
    const first = mesh.pids['agent-host']!;
    process.kill(first, 'SIGKILL');
    const second = await until('a new agent-host', () => incarnations('agent-host').find((pid) => pid !== first));
    await until('agent-host SERVING again', async () => ((await checkHealth(mesh.addresses['agent-host'])).status === 'SERVING' ? true : undefined));
    assert.ok(isAlive(second));
    assert.equal(l.state, 'running');
    assert.ok(lines.some((line) => /agent-host exited \(signal SIGKILL\); restarting/.test(line)), lines.join('\n'));
    for (const name of ['memory', 'tool-sandbox', 'chain-executor'] as const) assert.equal(incarnations(name).length, 1, `one-for-one: ${name} untouched`);

    // Two more crashes within the period: three in all, past maxRestarts = 2.
    for (let kill = 0; kill < 2; kill++) {
      const pids = incarnations('agent-host');
      await until('agent-host SERVING', async () => ((await checkHealth(mesh.addresses['agent-host'])).status === 'SERVING' ? true : undefined));
      process.kill(pids[pids.length - 1]!, 'SIGKILL');
      if (kill === 0) await until('agent-host incarnation 3', () => (incarnations('agent-host').length > pids.length ? true : undefined));
    }
    const outcome = await l.done;
    assert.equal(outcome.exitCode, 1);
    assert.match(outcome.reason, /agent-host crashed 3 times within 60 s .*giving up/);
    for (const pid of Object.values(l.mesh.pids)) assert.ok(!isAlive(pid!), 'every service stopped');
    for (const pid of incarnations('agent-host')) assert.ok(!isAlive(pid));
  });

  it('fails start-up naming the service that cannot come up, with its last log lines', async () => {
    const l = await launch({ FAKE_CRASH: 'tool-sandbox' }, { maxRestarts: 1 });
    await assert.rejects(l.start(), /tool-sandbox exited before it was SERVING \(exit code 3\)[\s\S]*cannot open its store/);
    const outcome = await l.done;
    assert.equal(outcome.exitCode, 1);
    assert.ok(!isAlive(l.mesh.pids.memory!), 'memory, already up, was stopped');
  });

  it('refuses to start when an address is taken, naming the service and its variable', async () => {
    const first = await launch();
    await first.start();
    const env = { ...process.env, ELIXIRCHAIN_MEMORY_ADDR: first.addresses.memory };
    const second = new Launcher({ env, dataDir, entryFor: () => FAKE_SERVICE, print: () => {} });
    await assert.rejects(second.start(), /memory: 127\.0\.0\.1:\d+ is already in use .*ELIXIRCHAIN_MEMORY_ADDR/);
  });
});
