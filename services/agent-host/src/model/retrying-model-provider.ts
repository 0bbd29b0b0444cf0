import type { ModelEvent, ModelProvider, ModelRequest } from './model-provider.js';
import { backoffDelayMs, defaultModelRetryPolicy, isRetryable, sleep, type RetryPolicy } from './retry-policy.js';

/**
 * Retries a model call that failed before producing anything. Once text has
 * reached the client a retry would repeat it, so later failures propagate.
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

  async *stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelEvent> {
    for (let attempt = 1; ; attempt++) {
      let produced = false;
      try {
        for await (const event of this.inner.stream(request, signal)) {
          produced = true;
          yield event;
        }
        return;
      } catch (error) {
        if (signal.aborted || produced || !isRetryable(error) || attempt >= this.policy.maxAttempts) throw error;
        const delay = backoffDelayMs(this.policy, attempt, error.retryAfterMs);
        this.onRetry?.(attempt, delay, error);
        await sleep(delay, signal);
      }
    }
  }
}
