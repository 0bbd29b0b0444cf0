import { AsyncLocalStorage } from 'node:async_hooks';
import type { Metadata } from '@grpc/grpc-js';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../logging/logger.js';

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** Full method path, e.g. /elixirchain.memory.v1.MemoryService/AppendMessages. */
  method: string;
  /** From `x-request-id` metadata, or generated; logged with every line. */
  requestId: string;
  /** Aborted when the client cancels, the deadline passes or the server drains. */
  signal: AbortSignal;
  /** The client's deadline, if it set one. */
  deadline: Date | undefined;
  metadata: Metadata;
  peer: string;
  log: Logger;
  /** Who the call is from (the local developer when authentication is off). */
  principal: Principal;
}

const storage = new AsyncLocalStorage<CallContext>();

/** The call being served by the current async context, if any. */
export function currentCall(): CallContext | undefined {
  return storage.getStore();
}

export function runInCall<T>(context: CallContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** Milliseconds left before the current call's deadline (Infinity when none). */
export function remainingDeadlineMs(): number {
  const deadline = storage.getStore()?.deadline;
  return deadline ? deadline.getTime() - Date.now() : Infinity;
}

/**
 * Runs work that must outlive the call that started it (an agent turn, a
 * chain run) outside that call's context: it inherits neither its deadline
 * nor its request id.
 */
export function runDetached<T>(fn: () => T): T {
  return storage.exit(fn);
}
