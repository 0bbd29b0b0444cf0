import { availableParallelism } from 'node:os';

/** What the operator allows any tool at most, and what a manifest gets when it says nothing. */
export interface OperatorLimits {
  maxMemoryMb: number;
  maxTimeoutMs: number;
  maxCpuTimeMs: number;
  maxOutputBytes: number;
  maxEvents: number;
  maxInputBytes: number;
  maxBundleBytes: number;
  maxRetryAttempts: number;
  maxFetchResponseBytes: number;
  maxRedirects: number;
  defaultMemoryMb: number;
  defaultTimeoutMs: number;
  defaultOutputBytes: number;
  defaultEvents: number;
}

export interface PoolSettings {
  /** Worker processes; each runs several isolates at once. */
  workers: number;
  maxCallsPerWorker: number;
  maxQueue: number;
  /** Heap of each worker's own Node runtime (isolates have their own limits). */
  workerHeapMb: number;
  maxRestarts: number;
  restartWithinMs: number;
}

export const DEFAULT_OPERATOR_LIMITS: OperatorLimits = {
  maxMemoryMb: 512,
  maxTimeoutMs: 120_000,
  maxCpuTimeMs: 120_000,
  maxOutputBytes: 4 * 1024 * 1024,
  maxEvents: 10_000,
  maxInputBytes: 4 * 1024 * 1024,
  maxBundleBytes: 8 * 1024 * 1024,
  maxRetryAttempts: 5,
  maxFetchResponseBytes: 5 * 1024 * 1024,
  maxRedirects: 5,
  defaultMemoryMb: 64,
  defaultTimeoutMs: 10_000,
  defaultOutputBytes: 1024 * 1024,
  defaultEvents: 1_000,
};

export function defaultPoolSettings(): PoolSettings {
  return {
    workers: Math.max(2, Math.min(availableParallelism(), 8)),
    maxCallsPerWorker: 16,
    maxQueue: 512,
    workerHeapMb: 768,
    maxRestarts: 10,
    restartWithinMs: 10_000,
  };
}
