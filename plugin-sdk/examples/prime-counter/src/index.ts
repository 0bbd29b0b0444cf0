import { z } from 'zod';
import { defineTool } from '@elixirchain/plugin-sdk';

// Yields to the event loop so the sandbox can deliver a cancellation.
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export default defineTool({
  name: 'prime-counter',
  version: '1.0.0',
  description:
    'Counts the prime numbers up to a limit (at most 20 million), reporting progress as it goes. Slow for large limits: an example of a long-running tool.',
  input: z.object({
    limit: z.number().int().min(2).max(20_000_000),
    /** Numbers checked between two progress reports. */
    chunkSize: z.number().int().min(1000).max(5_000_000).default(250_000),
  }),
  output: z.object({
    limit: z.number().int(),
    count: z.number().int(),
    largest: z.number().int(),
  }),
  annotations: { readOnly: true, idempotent: true },
  limits: { memoryMb: 64, timeoutMs: 60_000, maxEvents: 500 },
  async execute({ limit, chunkSize }, ctx) {
    // A segmented sieve: small primes first, then one chunk at a time so the
    // memory stays flat and there is a point to report progress and check for
    // cancellation between chunks.
    const root = Math.floor(Math.sqrt(limit));
    const small = sieve(root);
    let count = 0;
    let largest = 0;
    for (let low = 2; low <= limit; ) {
      ctx.signal.throwIfAborted();
      // Chunks end on multiples of chunkSize: 2..250000, 250001..500000, ...
      const high = Math.min((Math.floor(low / chunkSize) + 1) * chunkSize, limit);
      const composite = new Uint8Array(high - low + 1);
      for (const p of small) {
        if (p * p > high) break;
        for (let multiple = Math.max(p * p, Math.ceil(low / p) * p); multiple <= high; multiple += p) composite[multiple - low] = 1;
      }
      for (let i = 0; i < composite.length; i++) {
        if (composite[i] === 0) {
          count++;
          largest = low + i;
        }
      }
      ctx.progress(high / limit, `checked up to ${high.toLocaleString('en-US')}: ${count} primes`);
      ctx.partial({ checkedUpTo: high, count });
      low = high + 1;
      await nextTurn();
    }
    return { limit, count, largest };
  },
});

function sieve(limit: number): number[] {
  const composite = new Uint8Array(limit + 1);
  const primes: number[] = [];
  for (let n = 2; n <= limit; n++) {
    if (composite[n]) continue;
    primes.push(n);
    for (let multiple = n * n; multiple <= limit; multiple += n) composite[multiple] = 1;
  }
  return primes;
}
