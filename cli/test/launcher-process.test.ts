import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '@elixirchain/runtime';
import { isAlive, meshEnv } from './support/free-ports.js';

const BIN = fileURLToPath(new URL('../bin/elixirchain.js', import.meta.url));
const FAKE_SERVICE = fileURLToPath(new URL('./fixtures/fake-service.ts', import.meta.url));

// The launcher as an operator runs it: plain node on the bin shim (what `npm start` does).
describe('elixirchain start (process, stand-in services)', function () {
  this.timeout(90_000);
  let dataDir: string;
  let cli: ChildProcess | undefined;
  let stderr = '';

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'elixirchain-start-'));
    stderr = '';
  });
  afterEach(() => {
    if (cli?.exitCode === null) cli.kill('SIGKILL');
    for (const pid of servicePids()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  function servicePids(): number[] {
    const log = path.join(dataDir, 'pids.log');
    return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[1])) : [];
  }

  async function startCli(): Promise<{ exit: Promise<number | null> }> {
    const env = { ...process.env, ...(await meshEnv()), ELIXIRCHAIN_DATA_DIR: dataDir, ELIXIRCHAIN_CONSOLE_ADDR: '127.0.0.1:0' };
    cli = spawn(process.execPath, [BIN, 'start', '--no-demo', '--service-entry', FAKE_SERVICE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    cli.stderr!.on('data', (d) => (stderr += d));
    const exit = new Promise<number | null>((resolve) => cli!.once('exit', (code) => resolve(code)));
    await until('the mesh to be running', () => (stderr.includes('ElixirChain is running') ? true : undefined));
    assert.equal(servicePids().length, 4);
    return { exit };
  }

  it('prints where each service listens and drains all on a double SIGTERM (as under npm), exiting 0', async () => {
    const { exit } = await startCli();
    for (const name of ['memory', 'tool-sandbox', 'agent-host', 'chain-executor']) assert.match(stderr, new RegExp(`${name}\\s+127\\.0\\.0\\.1:\\d+`));
    const pids = servicePids();
    cli!.kill('SIGTERM');
    cli!.kill('SIGTERM');
    assert.equal(await exit, 0, stderr);
    for (const pid of pids) assert.ok(!isAlive(pid), `service ${pid} left behind`);
    assert.equal(fs.readFileSync(path.join(dataDir, 'drained.log'), 'utf8').trim().split('\n').length, 4, 'every service drained');
    assert.match(stderr, /All services stopped/);
  });

  it('leaves no service behind even when the launcher itself is killed with SIGKILL', async () => {
    await startCli();
    const pids = servicePids();
    // The launcher is the services' parent (the shim is its parent).
    const launcherPid = Number(fs.readFileSync(`/proc/${pids[0]}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    assert.notEqual(launcherPid, cli!.pid);
    process.kill(launcherPid, 'SIGKILL');
    await until('every orphaned service to drain itself', () => (pids.every((pid) => !isAlive(pid)) ? true : undefined));
  });

  it('stops the mesh when its parent (npm) exits without passing SIGTERM on', async function () {
    this.timeout(180_000);
    const env = { ...process.env, ...(await meshEnv()), ELIXIRCHAIN_DATA_DIR: dataDir, ELIXIRCHAIN_CONSOLE_ADDR: '127.0.0.1:0' };
    // A stand-in for npm: a parent that dies and leaves the shim behind.
    const parent = spawn('sh', ['-c', `"${process.execPath}" "${BIN}" start --no-demo --service-entry "${FAKE_SERVICE}" & wait`], { env, stdio: 'ignore' });
    await until('four services', () => (servicePids().length === 4 ? true : undefined), 120_000);
    const pids = servicePids();
    parent.kill('SIGKILL');
    await until('the orphaned launcher to drain every service', () => (pids.every((pid) => !isAlive(pid)) ? true : undefined), 45_000);
    assert.equal(fs.readFileSync(path.join(dataDir, 'drained.log'), 'utf8').trim().split('\n').length, 4, 'drained, not killed');
  });

  it('exits non-zero with a clear message when a service cannot start', async () => {
    const env = { ...process.env, ...(await meshEnv()), ELIXIRCHAIN_DATA_DIR: dataDir, ELIXIRCHAIN_CONSOLE_ADDR: '127.0.0.1:0', FAKE_CRASH: 'agent-host' };
    const child = spawn(process.execPath, [BIN, 'start', '--no-demo', '--service-entry', FAKE_SERVICE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(err, /elixirchain start: agent-host exited before it was SERVING \(exit code 3\)/);
    for (const pid of servicePids()) assert.ok(!isAlive(pid));
  });
});
