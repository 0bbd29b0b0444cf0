import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { GroupCommitWriter } from '../src/storage/group-commit-writer.js';
import { InProcessStateStore } from '../src/storage/in-process-state-store.js';
import type { StateWrite } from '../src/storage/state-store.js';

/** An in-process store whose batches take a round trip, recording how many overlap and what each carried. */
class SlowStore extends InProcessStateStore {
  inFlight = 0;
  maxInFlight = 0;
  batchSizes: number[] = [];

  override async batch(writes: StateWrite[]): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.batchSizes.push(writes.length);
    await sleep(20);
    try {
      await super.batch(writes);
    } finally {
      this.inFlight--;
    }
  }
}

describe('group commit of checkpoints', () => {
  it('splits a large cohort released by one reply, so one half computes while the other half\'s batch is in flight; each caller released only once durable', async () => {
    const store = new SlowStore();
    const writer = new GroupCommitWriter(store);
    const lanes = 32;
    const rounds = 4;
    const lane = async (i: number) => {
      for (let round = 0; round < rounds; round++) {
        const key = `lane-${i}-${round}`;
        await writer.write([{ op: 'put', key, value: round }]);
        // Released only once its write is in the store.
        assert.equal((await store.get(key))?.value, round);
      }
    };
    await Promise.all(Array.from({ length: lanes }, (_, i) => lane(i)));
    assert.equal(store.batchSizes.reduce((a, b) => a + b, 0), lanes * rounds);
    // The first round goes as one batch; its reply releases two cohorts whose batches overlap.
    assert.equal(store.batchSizes[0], lanes);
    assert.equal(store.maxInFlight, 2);
    assert.deepEqual(store.batchSizes.slice(1, 3), [lanes / 2, lanes / 2]);
  });

  it('does not split a small batch', async () => {
    const store = new SlowStore();
    const writer = new GroupCommitWriter(store);
    const lane = async (i: number) => {
      for (let round = 0; round < 3; round++) await writer.write([{ op: 'put', key: `small-${i}-${round}`, value: round }]);
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => lane(i)));
    assert.deepEqual(store.batchSizes, [8, 8, 8]);
    assert.equal(store.maxInFlight, 1);
  });
});
