import fs from 'node:fs';
import path from 'node:path';
import { Supervisor, type ExitReason, type SupervisedProcess } from '@elixirchain/runtime';
import { waitForServing } from './health-probe.js';
import { tailLines } from './log-tail.js';
import { assertPortFree } from './port-check.js';
import { REPO_ROOT, SERVICES, serviceAddresses, serviceMainPath, type ServiceName } from './service-catalog.js';
import { spawnServiceProcess } from './service-process.js';

export type LauncherState = 'idle' | 'starting' | 'running' | 'draining' | 'stopped';

export interface LauncherOptions {
  /** Environment given to the services (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Default: ELIXIRCHAIN_DATA_DIR, else ./.elixirchain under the working directory. */
  dataDir?: string;
  /** 'files' writes each service's JSON log to <data>/logs/<name>.log; 'inherit' shows them here. */
  logs?: 'files' | 'inherit';
  /** How long a service has to report SERVING. */
  readyTimeoutMs?: number;
  /** How long a service has to drain after SIGTERM before SIGKILL. */
  graceMs?: number;
  /** Restart intensity: more than maxRestarts crashes of one service within periodMs gives up. */
  maxRestarts?: number;
  restartPeriodMs?: number;
  /** Human-readable progress. */
  print?: (line: string) => void;
  /** Runs once every service is SERVING, before start() resolves (the demo seed). */
  afterReady?: (mesh: MeshInfo) => Promise<void>;
  /** The process entry of each service (default services/<name>/src/main.ts); tests substitute stand-ins. */
  entryFor?: (name: ServiceName) => string;
}

export interface MeshInfo {
  addresses: Record<ServiceName, string>;
  dataDir: string;
  logDir: string | undefined;
  pids: Record<ServiceName, number | undefined>;
}

export interface LauncherOutcome {
  /** 0 after a requested shutdown, 1 when a service crash-looped or never came up. */
  exitCode: number;
  reason: string;
}

/**
 * Runs the four services as child processes under a one-for-one supervisor.
 * Shutdown is a state, idempotent, and waits for every child: under npm the
 * launcher gets SIGTERM twice.
 */
export class Launcher {
  state: LauncherState = 'idle';
  readonly addresses: Record<ServiceName, string>;
  readonly dataDir: string;
  readonly logDir: string | undefined;
  /** Resolves when the launcher has stopped, by request or because it gave up. */
  readonly done: Promise<LauncherOutcome>;

  private readonly options: Required<Omit<LauncherOptions, 'afterReady' | 'dataDir' | 'env'>> & Pick<LauncherOptions, 'afterReady'>;
  private readonly env: NodeJS.ProcessEnv;
  private readonly processes = new Map<ServiceName, SupervisedProcess>();
  private readonly supervisor: Supervisor;
  private stopping: Promise<LauncherOutcome> | undefined;
  private resolveDone!: (outcome: LauncherOutcome) => void;
  private readonly abortStart = new AbortController();

  constructor(options: LauncherOptions = {}) {
    const env = options.env ?? process.env;
    this.options = {
      logs: options.logs ?? 'files',
      readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
      graceMs: options.graceMs ?? 10_000,
      maxRestarts: options.maxRestarts ?? 5,
      restartPeriodMs: options.restartPeriodMs ?? 60_000,
      print: options.print ?? ((line) => process.stdout.write(`${line}\n`)),
      afterReady: options.afterReady,
      entryFor: options.entryFor ?? serviceMainPath,
    };
    this.addresses = serviceAddresses(env);
    this.dataDir = path.resolve(options.dataDir ?? (env.ELIXIRCHAIN_DATA_DIR?.trim() || '.elixirchain'));
    this.logDir = this.options.logs === 'files' ? path.join(this.dataDir, 'logs') : undefined;
    // Every service learns every address and the one data directory, whatever the caller's env held.
    this.env = { ...env, ELIXIRCHAIN_DATA_DIR: this.dataDir };
    for (const s of SERVICES) this.env[s.addressVariable] = this.addresses[s.name];
    this.supervisor = new Supervisor({
      name: 'launcher',
      intensity: { maxRestarts: this.options.maxRestarts, periodMs: this.options.restartPeriodMs },
    });
    this.supervisor.on('exit', (id, reason) => {
      if (this.state === 'running' || this.state === 'starting') this.options.print(`${id} exited (${describeExit(reason)}); restarting`);
    });
    this.supervisor.on('restarted', (id) => {
      this.options.print(`${id} is SERVING again on ${this.addresses[id as ServiceName]} (pid ${this.processes.get(id as ServiceName)?.pid})`);
    });
    this.supervisor.on('gaveUp', (id, reason) => {
      void this.stop(1, this.crashLoopMessage(id as ServiceName, reason));
    });
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get mesh(): MeshInfo {
    const pids = Object.fromEntries(SERVICES.map((s) => [s.name, this.processes.get(s.name)?.pid])) as Record<ServiceName, number | undefined>;
    return { addresses: { ...this.addresses }, dataDir: this.dataDir, logDir: this.logDir, pids };
  }

  /** Starts every service in dependency order and waits for each to report SERVING. */
  async start(): Promise<MeshInfo> {
    if (this.state !== 'idle') throw new Error(`launcher is ${this.state}`);
    this.state = 'starting';
    try {
      for (const s of SERVICES) {
        try {
          await assertPortFree(this.addresses[s.name]);
        } catch (err) {
          throw new Error(`${s.name}: ${(err as Error).message} (is another \`elixirchain start\` running? try \`npx elixirchain status\`, or set ${s.addressVariable})`, { cause: err });
        }
      }
      fs.mkdirSync(this.dataDir, { recursive: true });
      if (this.logDir) fs.mkdirSync(this.logDir, { recursive: true });
      for (const s of SERVICES) {
        if (this.stopping) break;
        await this.supervisor.startChild({ id: s.name, start: () => this.startService(s.name) });
        this.options.print(`${s.name.padEnd(15)} SERVING on ${this.addresses[s.name]}  (pid ${this.processes.get(s.name)?.pid})`);
      }
      if (this.stopping) throw new Error('stopped while starting');
      if (this.options.afterReady) await this.options.afterReady(this.mesh);
      if (this.stopping) throw new Error('stopped while starting');
      this.state = 'running';
      return this.mesh;
    } catch (err) {
      await this.stop(1, (err as Error).message);
      throw err;
    }
  }

  /** Drains every service (SIGTERM, then SIGKILL after the grace period), latest-started first. Idempotent. */
  stop(exitCode = 0, reason = 'stopped'): Promise<LauncherOutcome> {
    if (this.stopping) return this.stopping;
    this.state = 'draining';
    this.abortStart.abort(new Error(reason));
    this.stopping = (async () => {
      await this.supervisor.stop();
      // A child that was mid-start when the stop came is still ours to end.
      await Promise.all([...this.processes.values()].map((p) => p.stop()));
      this.state = 'stopped';
      const outcome = { exitCode, reason };
      this.resolveDone(outcome);
      return outcome;
    })();
    return this.stopping;
  }

  private async startService(name: ServiceName): Promise<SupervisedProcess> {
    if (this.stopping) throw new Error('launcher is stopping');
    const log = this.logDir ? path.join(this.logDir, `${name}.log`) : 'inherit';
    const env = { ...this.env, ELIXIRCHAIN_SERVICE: name };
    const child = spawnServiceProcess({ entry: this.options.entryFor(name), env, log, cwd: REPO_ROOT, graceMs: this.options.graceMs });
    this.processes.set(name, child);
    const died = child.exited.then((exit) => {
      throw new Error(`${name} exited before it was SERVING (${describeExit(exit)})${this.logHint(name)}`);
    });
    try {
      await Promise.race([
        waitForServing(this.addresses[name], { timeoutMs: this.options.readyTimeoutMs, signal: this.abortStart.signal }),
        died,
      ]);
    } catch (err) {
      await child.stop();
      throw err;
    } finally {
      died.catch(() => {});
    }
    return child;
  }

  private crashLoopMessage(name: ServiceName, exit: ExitReason): string {
    return (
      `${name} crashed ${this.options.maxRestarts + 1} times within ${Math.round(this.options.restartPeriodMs / 1000)} s ` +
      `(last: ${describeExit(exit)}); giving up and stopping the mesh${this.logHint(name)}`
    );
  }

  private logHint(name: ServiceName): string {
    if (!this.logDir) return '';
    const file = path.join(this.logDir, `${name}.log`);
    const lines = tailLines(file, 5);
    const relative = path.relative(process.cwd(), file);
    return `\n  log: ${relative.startsWith('..') ? file : relative}${lines.map((l) => `\n    ${l}`).join('')}`;
  }
}

export function describeExit(exit: ExitReason | undefined): string {
  if (exit?.error) return (exit.error instanceof Error ? exit.error.message : String(exit.error)).split('\n')[0]!;
  if (exit?.signal) return `signal ${exit.signal}`;
  if (exit?.code !== undefined && exit.code !== null) return `exit code ${exit.code}`;
  return 'exited';
}
