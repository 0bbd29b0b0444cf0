import { createInterface } from 'node:readline';
import { nodeArgsFor, superviseProcess } from '../supervisor/child-process.js';
import type { SupervisedProcess } from '../supervisor/child-process.js';

export interface SpawnServiceOptions {
  /** Path of the service's process entry (its src/main.ts). */
  entry: string;
  /** Added to the parent's environment. Set the service's *_ADDR to 127.0.0.1:0 for a free port. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  cwd?: string;
}

export interface SpawnedService extends SupervisedProcess {
  /** host:port from the service's "listening" log line. */
  readonly address: string;
  /** Everything the process wrote so far, stdout and stderr. */
  output(): string;
  /** kill -9. Resolves once the process is gone. */
  kill(): Promise<void>;
}

/**
 * Starts a service as a real child process (for tests that kill -9 it) and
 * resolves once it logs that it is listening.
 */
export async function spawnService(options: SpawnServiceOptions): Promise<SpawnedService> {
  const child = superviseProcess(process.execPath, nodeArgsFor(options.entry), {
    cwd: options.cwd,
    env: { ...process.env, ELIXIRCHAIN_LOG_LEVEL: process.env.ELIXIRCHAIN_SPAWN_LOG_LEVEL ?? 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    graceMs: 10_000,
  });
  const lines: string[] = [];
  child.process.stderr?.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      void child.stop();
      reject(new Error(`${options.entry} did not start listening within ${options.readyTimeoutMs ?? 30_000} ms:\n${lines.join('')}`));
    }, options.readyTimeoutMs ?? 30_000);
    createInterface({ input: child.process.stdout! }).on('line', (line) => {
      lines.push(line + '\n');
      try {
        const record = JSON.parse(line) as { msg?: string; address?: string };
        if (record.msg === 'listening' && record.address) {
          clearTimeout(timer);
          resolve(record.address);
        }
      } catch {
        // not a JSON log line
      }
    });
    void child.exited.then((reason) => {
      clearTimeout(timer);
      reject(new Error(`${options.entry} exited (code ${reason.code}, signal ${reason.signal}) before listening:\n${lines.join('')}`));
    });
  });
  return Object.assign(child, {
    address,
    output: () => lines.join(''),
    async kill() {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
      await child.exited;
    },
  });
}
