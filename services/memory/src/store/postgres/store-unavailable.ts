// UNAVAILABLE for the networked backends: the database could not be reached or
// the connection dropped mid-call. Whether a write that was cut off committed
// is unknown, so callers retry with the same request_id, which replays a
// committed write instead of applying it twice.
import { StoreError } from '../store-errors.js';

export const UNAVAILABLE = 14;
export const STORE_UNAVAILABLE = 'STORE_UNAVAILABLE';

export function storeUnavailable(backend: string, detail: string): StoreError {
  return new StoreError(
    UNAVAILABLE,
    STORE_UNAVAILABLE,
    `the ${backend} store is unavailable (${detail}); retry with the same request_id`,
    { backend },
  );
}
