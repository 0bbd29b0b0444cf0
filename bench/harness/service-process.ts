// Starts a server as a child process on a port chosen here, and waits until it
// answers: how multi-process rows run the real mesh.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';

export interface ServiceProcess {
  name: string;
  pid: number;
  address: string;
  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  stop(graceMs?: number): Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once a gRPC channel to `address` is ready, or rejects after `timeoutMs`. */
export function waitForGrpc(address: string, timeoutMs: number): Promise<void> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<void>((resolve, reject) => {
    client.waitForReady(Date.now() + timeoutMs, (error) => {
      client.close();
      if (error) reject(new Error(`${address} did not accept connections within ${timeoutMs} ms: ${error.message}`));
      else resolve();
    });
  });
}

export interface SpawnServiceOptions {
  name: string;
  /** TypeScript entry run with tsx. */
  entry: string;
  address: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Inherit stderr (service logs) instead of discarding it. */
  showLogs?: boolean;
}

/**
 * ELIXIRCHAIN_BENCH_CPU_PROF=<dir>: every service child writes a V8 CPU profile
 * `<name>-<time>.cpuprofile` into <dir> when it exits (services exit through
 * process.exit after a SIGTERM drain, which is when Node writes it).
 */
function cpuProfileFlags(name: string): string[] {
  const dir = process.env.ELIXIRCHAIN_BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];
}

export async function spawnServiceProcess(options: SpawnServiceOptions): Promise<ServiceProcess> {
  const args = [...cpuProfileFlags(options.name), '--import', 'tsx', '--no-node-snapshot', options.entry];
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'ignore', options.showLogs ? 'inherit' : 'pipe'],
  });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));

  const stop = async (graceMs = 5000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  try {
    await Promise.race([
      waitForGrpc(options.address, options.readyTimeoutMs ?? 30_000),
      exited.then(() => {
        throw new Error(`${options.name} exited during start-up: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`);
      }),
    ]);
  } catch (error) {
    await stop(1000);
    throw error;
  }
  if (exitedEarly) throw new Error(`${options.name} exited during start-up`);
  return { name: options.name, pid: child.pid!, address: options.address, stop };
}
