import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testTool, type ToolCallEvent, type ToolUnderTest } from '@elixirchain/plugin-sdk/testing';
import type primeCounter from '../src/index.ts';

describe('prime-counter', () => {
  let tool: ToolUnderTest<typeof primeCounter>;
  before(async () => {
    tool = await testTool<typeof primeCounter>();
  });
  after(() => tool.close());

  it('counts primes and streams progress and partial results on the way', async () => {
    const { output, events } = await tool.invoke({ limit: 1_000_000, chunkSize: 100_000 });
    assert.deepEqual(output, { limit: 1_000_000, count: 78_498, largest: 999_983 });
    const progress = events.filter((event) => event.type === 'progress');
    assert.equal(progress.length, 10);
    assert.equal(progress.at(-1)?.fraction, 1);
    assert.ok(events.some((event) => event.type === 'partial'));
  });

  it('stops when the caller cancels', async () => {
    const controller = new AbortController();
    const seen: ToolCallEvent[] = [];
    const call = tool.invoke(
      { limit: 20_000_000, chunkSize: 20_000 },
      {
        signal: controller.signal,
        onEvent: (event) => {
          seen.push(event);
          if (event.type === 'progress') controller.abort();
        },
      },
    );
    await assert.rejects(call, { code: 'CANCELLED' });
    // Cancelled long before the 1,000 chunks a full run takes.
    assert.ok(seen.filter((event) => event.type === 'progress').length < 100);
  });
});
