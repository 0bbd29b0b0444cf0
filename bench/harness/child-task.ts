// Runs a unit of benchmark work in a fresh Node process: each row and each
// suite gets a clean heap and JIT, a crash or hang costs only that unit, and a
// hard timeout can always be enforced by killing the child.
import { fork } from 'node:child_process';

type ChildReply<T> = { ok: true; value: T } | { ok: false; error: string };

export interface ChildTaskOptions {
  /** Killed (SIGKILL) after this long; the promise then rejects with a timeout. */
  timeoutMs: number;
  /** Extra Node flags, e.g. --expose-gc. */
  nodeFlags?: string[];
  env?: NodeJS.ProcessEnv;
}

export class ChildTaskError extends Error {}

/** Starts `entry` (a .ts file calling serveChildTask) with `payload` and resolves with its value. */
export function runChildTask<T>(entry: string, payload: unknown, options: ChildTaskOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = fork(entry, [], {
      execPath: process.execPath,
      execArgv: ['--import', 'tsx', '--no-node-snapshot', ...(options.nodeFlags ?? [])],
      env: { ...process.env, ...options.env, ELIXIRCHAIN_BENCH_TASK: JSON.stringify(payload) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Its own process group, so a kill also takes down the servers it started.
      detached: true,
    });
    const killGroup = (): void => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    // Ctrl-C reaches only our process group now: pass it on before going down.
    const onSignal = (signal: NodeJS.Signals): void => {
      killGroup();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.kill(process.pid, signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let reply: ChildReply<T> | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);
    child.on('message', (message) => {
      reply = message as ChildReply<T>;
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      reject(new ChildTaskError(`could not start: ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // Servers the task started and did not stop (it crashed or was killed) go with it.
      killGroup();
      if (timedOut) reject(new ChildTaskError(`timed out after ${Math.round(options.timeoutMs / 1000)} s`));
      else if (reply?.ok) resolve(reply.value);
      else if (reply) reject(new ChildTaskError(reply.error));
      else reject(new ChildTaskError(`exited with ${signal ?? `code ${code}`} before reporting a result`));
    });
  });
}

/** Child side: runs `handler` on the payload, reports the value or the error, then exits. */
export function serveChildTask<P, T>(handler: (payload: P) => Promise<T>): void {
  const payload = JSON.parse(process.env.ELIXIRCHAIN_BENCH_TASK ?? 'null') as P;
  const send = (reply: ChildReply<T>): void => {
    // Exit only once the reply is flushed: libraries under test may leave timers or sockets open.
    process.send!(reply, () => process.exit(0));
  };
  handler(payload).then(
    (value) => send({ ok: true, value }),
    (error: unknown) => send({ ok: false, error: describeError(error) }),
  );
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0]!.slice(0, 300) || error.name;
  return String(error).slice(0, 300);
}
