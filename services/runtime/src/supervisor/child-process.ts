import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { ExitReason, Supervised } from './supervisor.js';

export interface SupervisedProcess extends Supervised {
  readonly process: ChildProcess;
  readonly pid: number | undefined;
}

/**
 * A child process as a supervised child. stop() sends SIGTERM, then SIGKILL
 * after graceMs; exited resolves once the process is gone.
 */
export function superviseProcess(command: string, args: string[], options: SpawnOptions & { graceMs?: number } = {}): SupervisedProcess {
  const { graceMs = 10_000, ...spawnOptions } = options;
  const child = spawn(command, args, spawnOptions);
  const exited = new Promise<ExitReason>((resolve) => {
    child.once('error', (error) => resolve({ normal: false, error }));
    child.once('exit', (code, signal) => resolve({ normal: code === 0, code, signal }));
  });
  let stopping: Promise<void> | undefined;
  return {
    process: child,
    pid: child.pid,
    exited,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

// Resolved here, not by the child, so a child started from any cwd finds tsx.
// (createRequire rather than import.meta.resolve: this module may be loaded as CommonJS by tsx.)
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The node arguments a TypeScript service entry runs with (tsx, and isolated-vm's snapshot flag). */
export function nodeArgsFor(entry: string): string[] {
  return ['--import', tsxLoader, '--no-node-snapshot', entry];
}
