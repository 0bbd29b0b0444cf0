import fs from 'node:fs';
import { nodeArgsFor, superviseProcess, type SupervisedProcess } from '@elixirchain/runtime';

export interface ServiceProcessOptions {
  /** The service's process entry (services/<name>/src/main.ts). */
  entry: string;
  env: NodeJS.ProcessEnv;
  /** Where the service's stdout/stderr (pino JSON) go; 'inherit' shows them in the terminal. */
  log: string | 'inherit';
  cwd: string;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  graceMs: number;
}

const ORPHAN_GUARD = import.meta.resolve('./orphan-guard.js');

/** Starts one service as a child process on this same Node, with tsx and isolated-vm's flag. */
export function spawnServiceProcess(options: ServiceProcessOptions): SupervisedProcess {
  const logFd = options.log === 'inherit' ? undefined : fs.openSync(options.log, 'a');
  const output = logFd ?? 'inherit';
  try {
    return superviseProcess(process.execPath, ['--import', ORPHAN_GUARD, ...nodeArgsFor(options.entry)], {
      cwd: options.cwd,
      env: options.env,
      // The IPC channel is how the orphan guard notices the launcher's death.
      stdio: ['ignore', output, output, 'ipc'],
      // Its own process group: a terminal Ctrl-C reaches only the launcher, which drains in order.
      detached: true,
      graceMs: options.graceMs,
    });
  } finally {
    if (logFd !== undefined) fs.closeSync(logFd);
  }
}
