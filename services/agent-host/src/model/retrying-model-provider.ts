import type { ModelEvent, ModelProvider, ModelRequest } from './model-provider.js';
import { backoffDelayMs, defaultModelRetryPolicy, isRetryable, sleep, type RetryPolicy } from './retry-policy.js';

/**
 * Retries a model call that failed before producing anything. Once text has
 * reached the client a retry would repeat it, so later failures propagate.
 * After the first event it hands out the inner iterator's results directly
 * (no extra generator hop per batch).
 */
export class RetryingModelProvider implements ModelProvider {
  readonly name: string;
  constructor(
    private readonly inner: ModelProvider,
    private readonly policy: RetryPolicy = defaultModelRetryPolicy,
    private readonly onRetry?: (attempt: number, delayMs: number, error: unknown) => void,
  ) {
    this.name = inner.name;
  }

  stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<readonly ModelEvent[]> {
    let iterator: AsyncIterator<readonly ModelEvent[]> | undefined;
    let started = false;
    const first = async (): Promise<IteratorResult<readonly ModelEvent[]>> => {
      for (let attempt = 1; ; attempt++) {
        iterator = this.inner.stream(request, signal)[Symbol.asyncIterator]();
        try {
          return await iterator.next();
        } catch (error) {
          if (signal.aborted || !isRetryable(error) || attempt >= this.policy.maxAttempts) throw error;
          const delay = backoffDelayMs(this.policy, attempt, error.retryAfterMs);
          this.onRetry?.(attempt, delay, error);
          await sleep(delay, signal);
        }
      }
    };
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          if (!started) {
            started = true;
            return first();
          }
          return iterator!.next();
        },
        return: async () => {
          await iterator?.return?.();
          return { done: true, value: undefined };
        },
      }),
    };
  }
}
