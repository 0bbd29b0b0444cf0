// Maps what the mongodb driver throws to store errors. Lost connections, no
// reachable primary, elections and shutdowns are UNAVAILABLE (retry with the
// same request_id); anything else unexpected is INTERNAL without echoing the
// query (it may carry user data).
import { MongoError, MongoNetworkError, MongoServerSelectionError } from 'mongodb';
import { isStoreError, StoreError, StoreErrorCode } from '../store-errors.js';
import { storeUnavailable } from '../postgres/store-unavailable.js';

export const DUPLICATE_KEY = 11000;

// Server codes for "not now": network, elections, shutdown, interruption.
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436, 64, 262]);
const UNAVAILABLE_LABELS = ['RetryableWriteError', 'TransientTransactionError', 'UnknownTransactionCommitResult', 'ResetPool'];
const UNAVAILABLE_NAMES = new Set([
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoServerClosedError',
  'MongoPoolClearedError',
  'MongoOperationTimeoutError',
  'MongoNetworkTimeoutError',
]);

export function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown })?.code === DUPLICATE_KEY;
}

export function isUnavailable(error: unknown): boolean {
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  if (!(error instanceof MongoError)) return false;
  if (UNAVAILABLE_NAMES.has(error.name)) return true;
  if (typeof error.code === 'number' && UNAVAILABLE_CODES.has(error.code)) return true;
  return UNAVAILABLE_LABELS.some((label) => error.hasErrorLabel(label));
}

export function toStoreError(error: unknown): Error {
  if (isStoreError(error)) return error;
  if (isUnavailable(error)) {
    const e = error as MongoError;
    return storeUnavailable('mongodb', `${e.name}${e.code !== undefined ? ` ${String(e.code)}` : ''}`);
  }
  const e = error as { name?: string; code?: unknown };
  return new StoreError(StoreErrorCode.INTERNAL, 'STORE_INTERNAL', `MongoDB error ${e?.name ?? ''} ${String(e?.code ?? '')}`.trim(), {
    backend: 'mongodb',
  });
}
