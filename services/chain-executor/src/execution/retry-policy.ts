import type { RetryPolicy } from '@elixirchain/proto/chain';
import type { Duration } from '@elixirchain/proto/google/protobuf/duration';
import { GrpcCode } from '@elixirchain/runtime';
import type { ElixirError } from '@elixirchain/runtime';

/** Codes that say "the same call will fail again": not retried unless the policy names its own list. */
const DEFAULT_NON_RETRYABLE = new Set([
  'INVALID_ARGUMENT', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'FAILED_PRECONDITION',
  'OUT_OF_RANGE', 'UNIMPLEMENTED', 'UNAUTHENTICATED',
]);

export interface ResolvedRetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
  nonRetryable: Set<string>;
}

export const durationMs = (d: Duration | undefined): number => (d ? d.seconds * 1000 + d.nanos / 1e6 : 0);

/** Declared policy with defaults filled in: 1 attempt, 200 ms doubling up to 10 s. */
export function resolveRetryPolicy(policy: RetryPolicy | undefined): ResolvedRetryPolicy {
  return {
    maxAttempts: Math.max(1, policy?.maxAttempts ?? 1),
    initialBackoffMs: durationMs(policy?.initialBackoff) || 200,
    maxBackoffMs: durationMs(policy?.maxBackoff) || 10_000,
    multiplier: policy?.backoffMultiplier || 2,
    nonRetryable: policy && policy.nonRetryableCodes.length > 0 ? new Set(policy.nonRetryableCodes) : DEFAULT_NON_RETRYABLE,
  };
}

/** Cancellation is never retried: it is the caller's (or a race's) decision, not a fault. */
export function isRetryable(policy: ResolvedRetryPolicy, error: ElixirError): boolean {
  if (error.code === GrpcCode.CANCELLED) return false;
  return !policy.nonRetryable.has(error.codeName);
}

/** Backoff before attempt `attempt + 1`, with ±20 % jitter so retries of many steps spread out. */
export function backoffMs(policy: ResolvedRetryPolicy, attempt: number): number {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** (attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
