import { setTimeout as sleep } from 'node:timers/promises';
import { GrpcCode, toRpcStatus } from '@elixirchain/runtime';
import type { ToolInvocation, ToolOutcome, ToolRunner } from '../ports/tool-runner.js';

/**
 * Invokes a tool and, when tool-sandbox became unreachable (killed and being
 * restarted), calls it again with the same call_id once it is back, but
 * only for a tool annotated idempotent or read-only: running it twice is
 * harmless. The turn's signal bounds the waiting (its timeout aborts it).
 * Any other tool's call fails with a status that says it may have run.
 */
export async function invokeThroughSandboxRestarts(
  tools: ToolRunner,
  call: ToolInvocation,
  retrySafe: boolean,
  signal: AbortSignal,
  onProgress: (fraction: number, message: string) => void,
  onRetry: (attempt: number, message: string) => void = () => {},
): Promise<ToolOutcome> {
  for (let attempt = 1; ; attempt += 1) {
    let outcome: ToolOutcome;
    try {
      outcome = await tools.invoke(call, signal, onProgress);
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      outcome = { ok: false, status: toRpcStatus(error), toolVersion: '' };
    }
    if (outcome.ok || outcome.status.code !== GrpcCode.UNAVAILABLE) return outcome;
    if (!retrySafe) {
      const message = `tool-sandbox became unreachable during the call (${outcome.status.message}); ${call.name} is not marked idempotent, so it was not retried and may or may not have run`;
      return { ...outcome, status: { ...outcome.status, message } };
    }
    onRetry(attempt, outcome.status.message);
    const backoff = Math.min(2000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random());
    try {
      await sleep(backoff, undefined, { signal });
    } catch {
      throw signal.reason;
    }
  }
}
