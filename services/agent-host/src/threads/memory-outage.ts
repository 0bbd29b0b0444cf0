import { setTimeout as sleep } from 'node:timers/promises';
import { ElixirError, GrpcCode } from '@elixirchain/runtime';

/**
 * How long a checkpoint waits out memory being unreachable: a killed memory
 * service is restarted by its launcher or orchestrator within seconds (8–13 s
 * on a loaded machine), and a turn should ride that out rather than crash.
 */
export const MEMORY_OUTAGE_BUDGET_MS = 60_000;

/**
 * Runs an idempotent memory write (one that carries a request_id, so a retry
 * of an attempt that committed replays it) and retries it while memory
 * answers UNAVAILABLE: an outage of memory is not a crash of the agent. Past
 * the budget the last UNAVAILABLE is thrown, for the turn to fail with.
 */
export async function rideOutMemoryOutage<T>(write: () => Promise<T>, budgetMs = MEMORY_OUTAGE_BUDGET_MS, onRetry?: (error: ElixirError, attempt: number) => void): Promise<T> {
  const giveUpAt = Date.now() + budgetMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      const backoff = Math.min(2000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random());
      if (!ElixirError.is(error, GrpcCode.UNAVAILABLE) || Date.now() + backoff >= giveUpAt) throw error;
      onRetry?.(error as ElixirError, attempt);
      await sleep(backoff);
    }
  }
}
