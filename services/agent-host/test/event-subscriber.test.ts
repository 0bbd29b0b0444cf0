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
