// UNAVAILABLE for the networked backends: the database could not be reached or
// the connection dropped mid-call. Whether a write that was cut off committed
// is unknown, so callers retry with the same request_id, which replays a
// committed write instead of applying it twice. RetryInfo suggests a short
// pause: long enough for a pool to reconnect, short enough for a failover.
import { ElixirError, GrpcCode } from '@elixirchain/runtime';

export const UNAVAILABLE = GrpcCode.UNAVAILABLE;
export const STORE_UNAVAILABLE = 'STORE_UNAVAILABLE';
export const STORE_RETRY_AFTER_MS = 200;

export function storeUnavailable(backend: string, detail: string): ElixirError {
  return new ElixirError(
    GrpcCode.UNAVAILABLE,
    STORE_UNAVAILABLE,
    `the ${backend} store is unavailable (${detail}); retry with the same request_id`,
    { metadata: { backend }, retryAfterMs: STORE_RETRY_AFTER_MS },
  );
}
