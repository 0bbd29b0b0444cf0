import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcessOptions {
  name: string;
  /** The service's process entry (services/<name>/src/main.ts). */
  entry: string;
  env: NodeJS.ProcessEnv;
  /** Where the service's stdout/stderr (pino JSON) go; 'inherit' shows them in the terminal. */
  log: string | 'inherit';
  cwd: string;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  graceMs: number;
}

const TSX = import.meta.resolve('tsx');
const ORPHAN_GUARD = import.meta.resolve('./orphan-guard.ts');

/** One running service: a child process of the launcher on the same Node. */
export class ServiceProcess {
  readonly exited: Promise<ServiceExit>;
  private readonly child: ChildProcess;
  private exit: ServiceExit | undefined;

  constructor(readonly options: ServiceProcessOptions) {
    const logFd = options.log === 'inherit' ? undefined : fs.openSync(options.log, 'a');
    const output = logFd ?? 'inherit';
    this.child = spawn(
      process.execPath,
      ['--import', TSX, '--import', ORPHAN_GUARD, '--no-node-snapshot', options.entry],
      {
        cwd: options.cwd,
        env: options.env,
        stdio: ['ignore', output, output, 'ipc'],
        // Its own process group: a terminal Ctrl-C reaches only the launcher, which drains in order.
        detached: true,
      },
    );
    if (logFd !== undefined) fs.closeSync(logFd);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      // A spawn failure (e.g. EAGAIN) is reported as an exit, so the supervisor sees one event.
      this.child.once('error', () => {
        if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid === undefined) {
          this.exit = { code: null, signal: null };
          resolve(this.exit);
        }
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** SIGTERM (the service drains), then SIGKILL after the grace period. Safe to call twice. */
  async stop(graceMs = this.options.graceMs): Promise<ServiceExit> {
    if (this.exit) return this.exit;
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.signal('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.exit || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // Already gone: the exit event follows.
    }
  }
}
