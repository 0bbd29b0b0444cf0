/**
 * Answers a retried mutating request (same request_id) with the first
 * attempt's result instead of acting twice. Bounded, in memory: it covers
 * client retries over a flaky connection, not a restart of the service.
 */
export class RequestLog {
  private readonly entries = new Map<string, Promise<unknown>>();

  constructor(private readonly capacity = 4096) {}

  run<T>(method: string, requestId: string, work: () => Promise<T>): Promise<T> {
    if (!requestId) return work();
    const key = `${method}\u0000${requestId}`;
    const known = this.entries.get(key);
    if (known) return known as Promise<T>;
    const result = work();
    this.entries.set(key, result);
    // A failure is not remembered: retrying a refused request should try again.
    result.catch(() => this.entries.delete(key));
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return result;
  }
}
