import assert from 'node:assert/strict';
import { ThreadEvent, TurnStatus } from '@elixirchain/proto/agent';
import { decodeEventSegment, encodeEventSegment } from '../src/threads/thread-event-segment.js';
import { decodeThreadRecord, encodeThreadRecord, newThreadRecord } from '../src/threads/thread-record.js';

const delta = (sequence: number, turnId: string, time: number, text: string): ThreadEvent => ({ sequence, threadId: 't', turnId, time: new Date(time), event: { $case: 'textDelta', textDelta: { text } } });

describe('stored forms of thread events and records', () => {
  const events: ThreadEvent[] = [
    { sequence: 1, threadId: 't', turnId: 'turn-a', time: new Date(1000), event: { $case: 'turnStarted', turnStarted: { turnId: 'turn-a', agentId: 'x', agentVersion: 1, userMessageId: 'u', traceId: '' } } },
    delta(2, 'turn-a', 1001, 'Hel'),
    delta(3, 'turn-a', 1001, 'lo'),
    delta(4, 'turn-a', 1003, ' wor'),
    delta(5, 'turn-b', 1004, 'other turn'),
    delta(7, 'turn-b', 1004, 'after a gap'),
    { sequence: 8, threadId: 't', turnId: 'turn-b', time: new Date(1005), event: { $case: 'turnCompleted', turnCompleted: { turnId: 'turn-b', status: TurnStatus.TURN_STATUS_COMPLETED, usage: undefined, duration: undefined } } },
  ];

  it('a segment decodes to the very events it was made of: sequences, turns, times and texts', () => {
    const stored = encodeEventSegment(events);
    assert.deepEqual(decodeEventSegment(stored, 't', 0), events);
  });

  it('keeps consecutive deltas of a turn as one run, and decodes only what follows after_sequence', () => {
    const stored = encodeEventSegment(events);
    const json = JSON.parse(stored.bytesValue.toString('utf8')) as { events: unknown[] };
    assert.equal(json.events.length, 5, 'turn started, one run of three deltas, two single runs, turn completed');
    assert.deepEqual(
      decodeEventSegment(stored, 't', 3).map((e) => e.sequence),
      [4, 5, 7, 8],
    );
  });

  it('still reads segments and records stored as a Struct by earlier versions', () => {
    const old = { $case: 'structValue' as const, structValue: { events: [{ s: 2, u: 'turn-a', m: 1001, d: 'Hel' }, ThreadEvent.toJSON(events[6])] } };
    assert.deepEqual(decodeEventSegment(old, 't', 0), [events[1], events[6]]);
    const record = newThreadRecord('t', 'agent');
    assert.deepEqual(decodeThreadRecord({ $case: 'structValue', structValue: record }), record);
    assert.deepEqual(decodeThreadRecord(encodeThreadRecord(record)), record);
  });
});
