import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ThreadEvent } from '@elixirchain/proto/agent';
import { EventSubscriber } from '../src/threads/event-subscriber.js';

const delta = (sequence: number, text: string): ThreadEvent => ({ sequence, threadId: 't', turnId: 'u', time: new Date(0), event: { $case: 'textDelta', textDelta: { text } } });

describe('EventSubscriber: deltas merge only for a client that lags', () => {
  it('a burst pushed in one go reaches a client that keeps up as separate events', async () => {
    const s = new EventSubscriber({ lagEvents: 8 });
    for (let i = 1; i <= 50; i++) s.push(delta(i, `w${i} `));
    const got: ThreadEvent[] = [];
    for (let e = s.take(); e; e = s.take()) got.push(e);
    assert.deepEqual(got.map((e) => e.sequence), Array.from({ length: 50 }, (_, i) => i + 1));
    assert.equal(s.coalesced, 0);
    // Drained within the turn: the next burst is not lag either.
    await nextTurn();
    for (let i = 51; i <= 70; i++) s.push(delta(i, 'x'));
    assert.equal(s.coalesced, 0);
  });

  it('a client that leaves its backlog unread through a turn of the event loop gets later deltas merged, no text lost', async () => {
    const s = new EventSubscriber({ lagEvents: 8 });
    for (let i = 1; i <= 10; i++) s.push(delta(i, 'a'));
    await nextTurn();
    for (let i = 11; i <= 40; i++) s.push(delta(i, 'b'));
    const got: ThreadEvent[] = [];
    for (let e = s.take(); e; e = s.take()) got.push(e);
    assert.equal(got.length, 10, 'the thirty later deltas merged into the last queued one');
    assert.equal(got.at(-1)!.sequence, 40, 'the merged event carries the last sequence');
    assert.equal(got.map((e) => (e.event?.$case === 'textDelta' ? e.event.textDelta.text : '')).join(''), 'a'.repeat(10) + 'b'.repeat(30));
  });
});

describe('EventSubscriber.nextBatch: everything queued in one go, still bounded', () => {
  it('hands over the queued events in order and ends after the last', async () => {
    const s = new EventSubscriber({ endAfter: (e) => e.sequence === 30 });
    for (let i = 1; i <= 20; i++) s.push(delta(i, `w${i} `));
    const first = await s.nextBatch();
    assert.deepEqual(first?.map((e) => e.sequence), Array.from({ length: 20 }, (_, i) => i + 1));
    const later = s.nextBatch();
    for (let i = 21; i <= 35; i++) s.push(delta(i, 'x'));
    assert.deepEqual((await later)?.map((e) => e.sequence), Array.from({ length: 10 }, (_, i) => i + 21), 'woken once for what was pushed, nothing after the end');
    assert.equal(await s.nextBatch(), undefined);
    assert.equal(s.delivered, 30);
  });

  it('a handed-over batch counts against the high-water mark until the reader asks again', async () => {
    const s = new EventSubscriber({ highWaterBytes: 1000 });
    for (let i = 1; i <= 20; i++) s.push(delta(i, 'y'.repeat(20)));
    assert.ok(s.overHighWater);
    let released = false;
    void s.drained().then(() => (released = true));
    assert.equal((await s.nextBatch())?.length, 20);
    await nextTurn();
    assert.equal(released, false, 'the producer still waits while the reader holds the batch');
    assert.ok(s.overHighWater);
    const next = s.nextBatch();
    await nextTurn();
    assert.equal(released, true, 'asking again means the batch was sent: the producer goes on');
    s.close();
    assert.equal(await next, undefined);
  });
});

describe('EventSubscriber: a drained or closed subscriber leaves nothing scheduled', () => {
  const immediates = () => process.getActiveResourcesInfo().filter((r) => r === 'Immediate').length;

  it('cancels the immediate that ages a backlog once the backlog is taken or the subscriber closes', async () => {
    const before = immediates();
    const taken = new EventSubscriber({ lagEvents: 8 });
    for (let i = 1; i <= 20; i++) taken.push(delta(i, 'x'));
    assert.equal(immediates(), before + 1, 'a backlog of lagEvents schedules its aging');
    assert.equal((await taken.nextBatch())?.length, 20);
    assert.equal(immediates(), before, 'handed over: nothing left to age, nothing holds the subscriber');
    const closed = new EventSubscriber({ lagEvents: 8 });
    for (let i = 1; i <= 20; i++) closed.push(delta(i, 'x'));
    closed.close();
    assert.equal(immediates(), before, 'closed: nothing holds the subscriber');
  });
});
