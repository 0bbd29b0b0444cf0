import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkHealth } from '../../../cli/src/launcher/health-probe.js';
import { freePorts } from '../../../cli/test/support/free-ports.js';
import { SERVICES, type ServiceName } from '../../../cli/src/launcher/service-catalog.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI_MAIN = path.join(REPO_ROOT, 'cli', 'src', 'main.ts');
const TSX = import.meta.resolve('tsx');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The mesh as an operator runs it: `elixirchain start` as a real process
 * (the launcher, not the npm shim, so its pid is the services' parent).
 */
export class LaunchedMesh {
  readonly env: NodeJS.ProcessEnv;
  output = '';
  private exit: Promise<number | null> | undefined;

  private constructor(
    readonly dataDir: string,
    readonly addresses: Record<ServiceName, string>,
    private readonly launcher: ChildProcess,
    env: NodeJS.ProcessEnv,
  ) {
    this.env = env;
    launcher.stdout!.on('data', (d) => (this.output += d));
    launcher.stderr!.on('data', (d) => (this.output += d));
    this.exit = new Promise((resolve) => launcher.once('exit', (code) => resolve(code)));
  }

  static async start(extraEnv: Record<string, string> = {}): Promise<LaunchedMesh> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'elixirchain-e2e-'));
    const ports = await freePorts(SERVICES.length);
    const addresses = Object.fromEntries(SERVICES.map((s, i) => [s.name, `127.0.0.1:${ports[i]}`])) as Record<ServiceName, string>;
    // Logs at info in <data>/logs/, whatever the test runner's own level, to explain a failure.
    // An ephemeral port for anything the launcher serves beside the mesh (the web console), so runs never collide.
    const env: NodeJS.ProcessEnv = { ...process.env, ELIXIRCHAIN_DATA_DIR: dataDir, ELIXIRCHAIN_LOG_LEVEL: 'info', ELIXIRCHAIN_CONSOLE_ADDR: '127.0.0.1:0', ...extraEnv };
    // Offline, whatever the developer's shell holds.
    delete env.OPENAI_API_KEY;
    delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
    for (const s of SERVICES) env[s.addressVariable] = addresses[s.name];
    const launcher = spawn(process.execPath, ['--import', TSX, '--no-node-snapshot', CLI_MAIN, 'start', '--grace', '15'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const mesh = new LaunchedMesh(dataDir, addresses, launcher, env);
    const deadline = Date.now() + 120_000;
    while (!mesh.output.includes('ElixirChain is running')) {
      if (launcher.exitCode !== null) throw new Error(`the launcher exited ${launcher.exitCode} before the mesh was up:\n${mesh.output}`);
      if (Date.now() > deadline) throw new Error(`the mesh did not come up within 120 s:\n${mesh.output}`);
      await sleep(200);
    }
    return mesh;
  }

  get launcherPid(): number {
    return this.launcher.pid!;
  }

  /** The running process of a service: the launcher's child whose entry is services/<name>/src/main.ts. */
  servicePid(name: ServiceName): number | undefined {
    const entry = `services/${name}/src/main.ts`;
    return childrenOf(this.launcherPid).find((pid) => cmdline(pid).includes(entry));
  }

  /** Every process below the launcher (services and their workers). */
  processTree(): number[] {
    const all: number[] = [];
    const walk = (pid: number) => {
      for (const child of childrenOf(pid)) {
        all.push(child);
        walk(child);
      }
    };
    walk(this.launcherPid);
    return all;
  }

  /** Waits for the launcher to have restarted a service: a new pid, answering SERVING. */
  async waitForRestart(name: ServiceName, oldPid: number, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pid = this.servicePid(name);
      if (pid && pid !== oldPid && (await checkHealth(this.addresses[name])).status === 'SERVING') return pid;
      if (Date.now() > deadline) throw new Error(`${name} was not restarted within ${timeoutMs / 1000} s:\n${this.output.slice(-2000)}`);
      await sleep(200);
    }
  }

  /** Runs the CLI as a process against this mesh. */
  cli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', TSX, '--no-node-snapshot', CLI_MAIN, ...args], { cwd: REPO_ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`elixirchain ${args.join(' ')} did not finish within ${timeoutMs / 1000} s\n${stdout}\n${stderr}`));
      }, timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** SIGTERM to the launcher (twice, as npm delivers it); resolves with its exit code. */
  async terminate(timeoutMs = 90_000): Promise<number | null> {
    if (this.launcher.exitCode === null) {
      this.launcher.kill('SIGTERM');
      this.launcher.kill('SIGTERM');
    }
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const result = await Promise.race([this.exit!, timer]);
    if (result === 'timeout') throw new Error(`the launcher did not exit within ${timeoutMs / 1000} s after SIGTERM`);
    return result;
  }

  /** The last lines of a service's log, for failure messages. */
  logTail(name: ServiceName, lines = 15): string {
    try {
      return fs.readFileSync(path.join(this.dataDir, 'logs', `${name}.log`), 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Last resort for a failed test run: nothing may outlive the suite. */
  forceCleanup(): void {
    for (const pid of [...this.processTree(), this.launcherPid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return children;
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

