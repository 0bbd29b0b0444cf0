import { ThreadEvent } from '@elixirchain/proto/agent';

/**
 * How a checkpoint stores the events since the previous one (state key
 * `thread-events/<thread>/<first sequence>`): UTF-8 JSON in bytes_value,
 * `{"events": [...]}`. Text deltas are most of a thread's events, so
 * consecutive deltas of one turn are one run `{ s, u, m, r, o? }` (first
 * sequence, turn, time in ms, the texts, and each delta's time offset from m
 * when any differs). Events whose body holds no bytes are `{ s, u, m, e }`
 * with the body as it is in memory (a message's create_time as ms); the few
 * that may carry bytes (error details) keep ThreadEvent's proto JSON. Older
 * segments (a Struct, with one `{ s, u, m, d }` per delta) still decode.
 */
export function encodeEventSegment(events: readonly ThreadEvent[]): { $case: 'bytesValue'; bytesValue: Buffer } {
  return eventSegmentValue(encodeEventEntries(events));
}

/** A segment's stored value from its entries. */
export function eventSegmentValue(entries: readonly unknown[]): { $case: 'bytesValue'; bytesValue: Buffer } {
  return { $case: 'bytesValue', bytesValue: Buffer.from(JSON.stringify({ events: entries })) };
}

/** Events in the stored entry form (JSON-ready), as a segment or a thread record holds them. */
export function encodeEventEntries(events: readonly ThreadEvent[]): unknown[] {
  const out: unknown[] = [];
  let run: { s: number; u: string; m: number; r: string[]; o?: number[] } | undefined;
  for (const event of events) {
    const body = event.event;
    const time = event.time?.getTime() ?? 0;
    if (body?.$case === 'textDelta') {
      if (run && run.u === event.turnId && run.s + run.r.length === event.sequence) {
        if (time !== run.m) (run.o ??= new Array<number>(run.r.length).fill(0)).push(time - run.m);
        else run.o?.push(0);
        run.r.push(body.textDelta.text);
        continue;
      }
      run = { s: event.sequence, u: event.turnId, m: time, r: [body.textDelta.text] };
      out.push(run);
      continue;
    }
    run = undefined;
    out.push(plainBody(body) ? { s: event.sequence, u: event.turnId, m: time, e: storedBody(body) } : ThreadEvent.toJSON(event));
  }
  return out;
}

type StoredValue = { $case: 'bytesValue'; bytesValue: Uint8Array } | { $case: 'structValue'; structValue: { [key: string]: any } | undefined } | undefined;

/** The events a segment holds with a sequence after afterSequence, in stored order. */
export function decodeEventSegment(value: StoredValue, threadId: string, afterSequence: number): ThreadEvent[] {
  let stored: unknown[] | undefined;
  if (value?.$case === 'bytesValue') {
    stored = (JSON.parse(Buffer.from(value.bytesValue.buffer, value.bytesValue.byteOffset, value.bytesValue.byteLength).toString('utf8')) as { events?: unknown[] }).events;
  } else if (value?.$case === 'structValue') {
    stored = value.structValue?.events as unknown[] | undefined;
  }
  return decodeEventEntries(stored ?? [], threadId, afterSequence);
}

/** The events of stored entries with a sequence after afterSequence, in stored order. */
export function decodeEventEntries(stored: readonly unknown[], threadId: string, afterSequence: number): ThreadEvent[] {
  const out: ThreadEvent[] = [];
  for (const item of stored) {
    const json = item as Record<string, unknown>;
    if (Array.isArray(json.r)) {
      const first = Number(json.s);
      const texts = json.r as string[];
      const offsets = json.o as number[] | undefined;
      for (let i = 0; i < texts.length; i++) {
        if (first + i <= afterSequence) continue;
        out.push(textDelta(first + i, threadId, String(json.u ?? ''), Number(json.m ?? 0) + (offsets?.[i] ?? 0), texts[i]));
      }
    } else if (json.e !== undefined) {
      if (Number(json.s) > afterSequence) out.push(ThreadEvent.fromPartial({ sequence: Number(json.s), threadId, turnId: String(json.u ?? ''), time: new Date(Number(json.m ?? 0)), event: loadedBody(json.e as StoredBody) }));
    } else if (typeof json.d === 'string') {
      if (Number(json.s) > afterSequence) out.push(textDelta(Number(json.s), threadId, String(json.u ?? ''), Number(json.m ?? 0), json.d));
    } else {
      const event = ThreadEvent.fromJSON(json);
      if (event.sequence > afterSequence) out.push(event);
    }
  }
  return out;
}

type Body = NonNullable<ThreadEvent['event']>;
type StoredBody = Record<string, unknown> & { $case: Body['$case'] };

/** Bodies JSON can hold as they are: no bytes anywhere in them (a Status's details are Any bytes). */
function plainBody(body: Body | undefined): body is Body {
  if (!body) return false;
  if (body.$case === 'error') return false;
  if (body.$case === 'toolCallCompleted') return body.toolCallCompleted.error === undefined;
  return true;
}

function storedBody(body: Body): unknown {
  if (body.$case !== 'messageCompleted' || !body.messageCompleted.message?.createTime) return body;
  const message = body.messageCompleted.message;
  return { $case: 'messageCompleted', messageCompleted: { message: { ...message, createTime: message.createTime!.getTime() } } };
}

function loadedBody(stored: StoredBody): Body {
  if (stored.$case !== 'messageCompleted') return stored as unknown as Body;
  const message = (stored.messageCompleted as { message?: Record<string, unknown> }).message;
  if (!message || message.createTime === undefined) return stored as unknown as Body;
  return { $case: 'messageCompleted', messageCompleted: { message: { ...message, createTime: new Date(Number(message.createTime)) } } } as unknown as Body;
}

function textDelta(sequence: number, threadId: string, turnId: string, time: number, text: string): ThreadEvent {
  return { sequence, threadId, turnId, time: new Date(time), event: { $case: 'textDelta', textDelta: { text } } };
}
