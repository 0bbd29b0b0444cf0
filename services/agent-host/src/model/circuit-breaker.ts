import { CircuitOpenError } from './model-provider.js';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one trial call is let through. */
  openMs: number;
}

type CircuitState = 'closed' | 'open' | 'half-open';

/** Per-endpoint breaker: after repeated failures, calls fail fast until a trial call succeeds. */
export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;

  constructor(
    readonly endpoint: string,
    private readonly options: CircuitBreakerOptions = { failureThreshold: 5, openMs: 30_000 },
    private readonly now: () => number = Date.now,
  ) {}

  get currentState(): CircuitState {
    if (this.state === 'open' && this.now() - this.openedAt >= this.options.openMs) return 'half-open';
    return this.state;
  }

  /** Throws CircuitOpenError when the call must not be made. */
  acquire(): void {
    const state = this.currentState;
    if (state === 'closed') return;
    if (state === 'half-open' && !this.trialInFlight) {
      this.state = 'half-open';
      this.trialInFlight = true;
      return;
    }
    const remaining = Math.max(1, this.options.openMs - (this.now() - this.openedAt));
    throw new CircuitOpenError(this.endpoint, remaining);
  }

  recordSuccess(): void {
    this.state = 'closed';
    this.failures = 0;
    this.trialInFlight = false;
  }

  recordFailure(): void {
    this.trialInFlight = false;
    this.failures += 1;
    if (this.state === 'half-open' || this.failures >= this.options.failureThreshold) {
      this.state = 'open';
      this.openedAt = this.now();
    }
  }
}

/** One breaker per endpoint URL, shared by every agent that talks to it. */
export class CircuitBreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();
  constructor(private readonly options?: CircuitBreakerOptions) {}
  forEndpoint(endpoint: string): CircuitBreaker {
    let breaker = this.breakers.get(endpoint);
    if (!breaker) {
      breaker = new CircuitBreaker(endpoint, this.options);
      this.breakers.set(endpoint, breaker);
    }
    return breaker;
  }
}
