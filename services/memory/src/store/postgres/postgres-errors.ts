// Maps what the pg driver throws to store errors. Connection loss, server
// shutdown and pool exhaustion are UNAVAILABLE (retryable with the same
// request_id); deadlocks and serialisation failures are retried internally
// before they ever reach a caller.
import { isStoreError, StoreError, StoreErrorCode } from '../store-errors.js';
import { GrpcCode } from '@elixirchain/runtime';
import { storeUnavailable } from './store-unavailable.js';

interface PgLikeError {
  code?: string;
  message?: string;
}

// SQLSTATE classes/codes that mean "the server or the connection went away".
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53400', '58030']);
const NODE_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'connection terminated',
  'Client has encountered a connection error',
  'timeout exceeded when trying to connect',
  'Client was closed',
  'Cannot use a pool after calling end',
];

/** True for failures after which the connection must be discarded. */
export function isConnectionError(error: unknown): boolean {
  const e = error as PgLikeError;
  if (typeof e?.code === 'string') {
    if (e.code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(e.code) || NODE_NETWORK_CODES.has(e.code)) return true;
  }
  const message = typeof e?.message === 'string' ? e.message : '';
  return CONNECTION_MESSAGES.some((m) => message.includes(m));
}

/** Deadlock or serialisation failure: the transaction rolled back and may simply run again. */
export function isTransientConflict(error: unknown): boolean {
  const code = (error as PgLikeError)?.code;
  return code === '40001' || code === '40P01';
}

export function toStoreError(error: unknown): Error {
  if (isStoreError(error)) return error;
  if (isConnectionError(error)) {
    const e = error as PgLikeError;
    return storeUnavailable('postgres', e.code ? `${e.code}: ${e.message ?? ''}` : (e.message ?? 'connection lost'));
  }
  const e = error as PgLikeError;
  if (e?.code === '57014') {
    return new StoreError(GrpcCode.DEADLINE_EXCEEDED, 'STORE_TIMEOUT', 'the PostgreSQL statement timed out', { backend: 'postgres' });
  }
  // Anything else is our bug or an unexpected server state: INTERNAL, without
  // echoing SQL or parameters (they may carry user data).
  return new StoreError(StoreErrorCode.INTERNAL, 'STORE_INTERNAL', `PostgreSQL error ${e?.code ?? ''}`.trim(), {
    backend: 'postgres',
    ...(e?.code ? { sqlstate: e.code } : {}),
  });
}
