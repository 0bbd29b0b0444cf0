/**
 * Entry of a tool worker process. It holds isolates and runs calls; it knows
 * no policy. If V8 reaches a state it cannot recover from (an isolate that
 * will not terminate, a host-side allocation failure), the process dies and
 * the parent's WorkerSupervisor replaces it, failing only the calls it held.
 */
import type ivm from 'isolated-vm';
import { IsolateCall } from './isolate-call.js';
import { IsolatePool } from './isolate-pool.js';
import { ToolRealm } from './tool-realm.js';
import type { DoneMessage, ParentMessage, PrepareMessage, WorkerFailure, WorkerMessage } from './worker-protocol.js';

if (!process.send) {
  console.error('tool-worker-main must be started as a child process with an IPC channel');
  process.exit(2);
}

const send = (message: WorkerMessage) => {
  if (process.connected) process.send!(message);
};

const pool = new IsolatePool({
  maxIdlePerVersion: Number(process.env.ELIXIRCHAIN_SANDBOX_IDLE_PER_VERSION ?? 4),
  maxIdleTotal: Number(process.env.ELIXIRCHAIN_SANDBOX_IDLE_TOTAL ?? 64),
  maxCallsPerIsolate: 500,
  // isolated-vm cannot recover; waiting would hang the worker's calls forever.
  onCatastrophicError: () => process.kill(process.pid, 'SIGKILL'),
});
const calls = new Map<number, IsolateCall>();

const clip = (s: string) => (s.length > 4000 ? `${s.slice(0, 4000)}…` : s);
const messageOf = (error: unknown) => clip(error instanceof Error ? String(error.message) : String(error));

async function invoke(message: Extract<ParentMessage, { t: 'invoke' }>): Promise<DoneMessage> {
  if (message.version) pool.define(message.version);
  if (!pool.has(message.key)) {
    return { t: 'done', id: message.id, ok: false, cpuMs: 0, failure: { code: 'UNAVAILABLE', reason: 'VERSION_NOT_LOADED', message: 'the worker does not hold this tool version' } };
  }
  const kept = message.reuse ? pool.takeKept(message.reuse, message.key) : undefined;
  const warm = kept?.warm ?? (await pool.acquire(message.key));
  const call = new IsolateCall(
    message,
    warm,
    pool,
    { forward: (op, requestId, json) => send({ t: 'bridge', id: message.id, op, requestId, json }) },
    kept,
  );
  calls.set(message.id, call);
  try {
    return await call.run();
  } finally {
    calls.delete(message.id);
  }
}

const refused = (id: number, failure: WorkerFailure): DoneMessage => ({ t: 'done', id, ok: false, cpuMs: 0, failure });

/** Compiles, links and evaluates a bundle once, and checks its default export. */
async function prepare(message: PrepareMessage): Promise<DoneMessage> {
  pool.define(message.version);
  const warm = await pool.acquire(message.version.key);
  const { isolate } = warm;
  let realm: ToolRealm | undefined;
  let ok = false;
  let timedOut = false;
  const watchdog = setTimeout(() => {
    timedOut = true;
    if (!isolate.isDisposed) isolate.dispose();
  }, message.timeoutMs);
  try {
    let module: ivm.Module;
    try {
      module = await pool.compileModule(warm);
    } catch (error) {
      return refused(message.id, { code: 'INVALID_ARGUMENT', reason: 'BUNDLE_SYNTAX', message: `the bundle does not compile: ${messageOf(error)}` });
    }
    const imports = module.dependencySpecifiers;
    module.release();
    if (imports.length > 0) {
      const listed = imports.slice(0, 5).map((s) => JSON.stringify(clip(s).slice(0, 200))).join(', ');
      return refused(message.id, { code: 'INVALID_ARGUMENT', reason: 'BUNDLE_IMPORTS', message: `a tool bundle must import nothing, it imports ${listed}` });
    }
    try {
      realm = await ToolRealm.create(warm, pool, message.timeoutMs);
    } catch (error) {
      const why = timedOut ? 'it did not finish loading in time' : isolate.isDisposed ? 'it exceeded its memory limit while loading' : messageOf(error);
      return refused(message.id, { code: 'INVALID_ARGUMENT', reason: 'BUNDLE_LOAD_FAILED', message: `the bundle fails while loading: ${why}` });
    }
    const shape = await realm.control.apply(undefined, ['shape', realm.namespace.derefInto()], { result: { copy: true }, timeout: message.timeoutMs });
    if (shape !== 'function' && shape !== 'execute') {
      return refused(message.id, { code: 'INVALID_ARGUMENT', reason: 'BUNDLE_NO_TOOL', message: "the bundle's default export must be a function or an object with execute(input, ctx)" });
    }
    ok = true;
    return { t: 'done', id: message.id, ok: true, cpuMs: 0 };
  } catch (error) {
    return refused(message.id, { code: 'INVALID_ARGUMENT', reason: 'BUNDLE_LOAD_FAILED', message: `the bundle could not be loaded: ${timedOut ? 'it did not finish loading in time' : messageOf(error)}` });
  } finally {
    clearTimeout(watchdog);
    realm?.release();
    pool.release(warm, ok && !isolate.isDisposed);
    if (!ok) pool.evict([message.version.key]);
  }
}

function settle(id: number, work: Promise<DoneMessage>): void {
  work.then(send, (error: unknown) => send(refused(id, { code: 'INTERNAL', reason: 'SANDBOX_ERROR', message: messageOf(error) })));
}

process.on('message', (raw: unknown) => {
  const message = raw as ParentMessage;
  switch (message?.t) {
    case 'invoke':
      settle(message.id, invoke(message));
      break;
    case 'prepare':
      settle(message.id, prepare(message));
      break;
    case 'reply':
      calls.get(message.id)?.reply(message.requestId, message.json);
      break;
    case 'abort':
      calls.get(message.id)?.abort(message.reason);
      break;
    case 'evict':
      pool.evict(message.keys);
      break;
  }
});

// The parent is gone: nobody will read our results.
process.on('disconnect', () => process.exit(0));
// Profiling (ELIXIRCHAIN_SANDBOX_WORKER_CPU_PROF): exit normally on SIGTERM so Node writes the profile.
if (process.env.ELIXIRCHAIN_SANDBOX_WORKER_CPU_PROF) process.on('SIGTERM', () => process.exit(0));

send({ t: 'ready', pid: process.pid });
