import assert from 'node:assert/strict';
import { ThreadEvent, TurnStatus } from '@elixirchain/proto/agent';
import type { DeepPartial } from '@elixirchain/runtime';
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

  it('round-trips every kind of step event, including a message with its create time and an error with Any details', () => {
    const at = (sequence: number, body: DeepPartial<ThreadEvent>['event']) => ThreadEvent.fromPartial({ sequence, threadId: 't', turnId: 'turn-c', time: new Date(2000 + sequence), event: body });
    const status = { code: 14, message: 'down', details: [{ typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from([1, 2, 255]) }] };
    const kinds = [
      at(1, { $case: 'turnQueued', turnQueued: { turnId: 'turn-c', position: 2 } }),
      at(2, { $case: 'toolCallStarted', toolCallStarted: { callId: 'c1', toolName: 'add', toolVersion: '1.0.0', arguments: { a: 2, b: [3, null, { deep: 'x' }] } } }),
      at(3, { $case: 'toolCallProgress', toolCallProgress: { callId: 'c1', fraction: 0.5, message: 'half' } }),
      at(4, { $case: 'approvalRequired', approvalRequired: { approvalId: 'ap', callId: 'c1', toolName: 'add', arguments: { a: 1 }, reason: 'destructive' } }),
      at(5, { $case: 'approvalResolved', approvalResolved: { approvalId: 'ap', approved: true, reason: 'ok' } }),
      at(6, { $case: 'toolCallCompleted', toolCallCompleted: { callId: 'c1', toolName: 'add', result: { sum: 5 }, duration: { seconds: 0, nanos: 1500000 } } }),
      at(7, { $case: 'toolCallCompleted', toolCallCompleted: { callId: 'c2', toolName: 'add', error: status, duration: { seconds: 1, nanos: 0 } } }),
      at(8, {
        $case: 'messageCompleted',
        messageCompleted: { message: { id: 'm', threadId: 't', sequence: 4, role: 3, content: 'five', toolCalls: [{ id: 'c1', name: 'add', arguments: { a: 2 } }], turnId: 'turn-c', metadata: { incomplete: true }, createTime: new Date(1234) } },
      }),
      at(9, { $case: 'error', error: { turnId: 'turn-c', status } }),
      at(10, { $case: 'turnCompleted', turnCompleted: { turnId: 'turn-c', status: TurnStatus.TURN_STATUS_COMPLETED, usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7, modelCalls: 2, toolCalls: 1 }, duration: { seconds: 2, nanos: 5 } } }),
    ];
    assert.deepEqual(decodeEventSegment(encodeEventSegment(kinds), 't', 0), kinds);
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
