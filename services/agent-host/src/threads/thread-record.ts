/** A tool call the model asked for whose result is not yet in the thread. */
export interface PendingCall {
  callId: string;
  name: string;
  arguments: Record<string, unknown>;
  /** Set when the call needs (or needed) a human's approval. */
  approval?: { approvalId: string; reason: string; state: 'pending' | 'approved' | 'denied'; note?: string };
  /** Past the turn's tool-call budget: answered with an error instead of run. */
  overBudget?: boolean;
}

/** Where a turn stands: enough to resume it after a crash from its last durable step. */
export interface TurnCheckpoint {
  turnId: string;
  requestId: string;
  agentVersion: number;
  status: 'running' | 'awaiting_approval';
  userMessageId: string;
  userText: string;
  startedAt: number;
  deadlineAt: number;
  firstSequence: number;
  modelCalls: number;
  toolCalls: number;
  inputTokens: number;
  outputTokens: number;
  pendingCalls: PendingCall[];
  /** Text of the model call in progress already in the event log, so a resumed call does not stream it twice. */
  streamed?: StreamedText;
}

/** How much of a model call's answer the event log holds: its length and hash (the text itself is in the events). */
export interface StreamedText {
  modelCall: number;
  /** UTF-16 code units, as String.length counts them. */
  chars: number;
  sha256: string;
}

export interface QueuedMessage {
  turnId: string;
  requestId: string;
  content: string;
  metadata?: Record<string, unknown>;
}

/** The thread's durable record (state key threads/<id>), rewritten by every checkpoint with compare-and-set. */
export interface ThreadRecord {
  threadId: string;
  agentId: string;
  /** Sequence of the last persisted event. */
  lastSequence: number;
  /** The memory thread's version (message count) after the last checkpoint. */
  messageVersion: number;
  activeTurn?: TurnCheckpoint;
  queue: QueuedMessage[];
  /** Recent request ids → the turn they started, so a retried SendMessage re-attaches. */
  requests: Array<{ requestId: string; turnId: string; firstSequence: number }>;
  lastTurn?: { turnId: string; status: string };
  /**
   * Step events of the running turn not yet in a segment (turn started, tool
   * call started/completed…: a few small events), in the stored entry form,
   * carried by the record — which every checkpoint rewrites anyway — instead
   * of a segment key per step. Moved into a segment with the next deltas, or
   * when the turn ends or they grow past a few KiB.
   */
  pendingEvents?: { from: number; entries: unknown[]; bytes: number };
  /**
   * Set by a drain that persisted every event this process numbered: the next
   * process continues the sequence without the resume gap. Any later write clears it.
   */
  cleanStop?: boolean;
  createdAt: string;
  updatedAt: string;
}

export const REQUESTS_REMEMBERED = 32;

/**
 * The record is stored as UTF-8 JSON in bytes_value: one buffer to encode and
 * store, where a Struct costs a Value message per field on both ends. Records
 * written as a Struct (before) still load.
 */
export function encodeThreadRecord(record: ThreadRecord): { $case: 'bytesValue'; bytesValue: Buffer } {
  return { $case: 'bytesValue', bytesValue: Buffer.from(JSON.stringify(record)) };
}

/** The record held by a state value, or undefined if the value is neither form. */
export function decodeThreadRecord(value: { $case: 'bytesValue'; bytesValue: Uint8Array } | { $case: 'structValue'; structValue: { [key: string]: any } | undefined } | undefined): ThreadRecord | undefined {
  if (value?.$case === 'bytesValue') return JSON.parse(Buffer.from(value.bytesValue.buffer, value.bytesValue.byteOffset, value.bytesValue.byteLength).toString('utf8')) as ThreadRecord;
  if (value?.$case === 'structValue') return value.structValue as ThreadRecord;
  return undefined;
}

/**
 * A copy of the record that a step may change without touching the original:
 * the parts steps mutate in place (the checkpoint, its pending calls and their
 * approvals) are copied; arrays steps replace whole (requests, queue) are shared.
 */
export function copyThreadRecord(record: ThreadRecord): ThreadRecord {
  const copy = { ...record };
  if (record.activeTurn) {
    copy.activeTurn = { ...record.activeTurn, pendingCalls: record.activeTurn.pendingCalls.map((c) => (c.approval ? { ...c, approval: { ...c.approval } } : { ...c })) };
    if (record.activeTurn.streamed) copy.activeTurn.streamed = { ...record.activeTurn.streamed };
  }
  if (record.lastTurn) copy.lastTurn = { ...record.lastTurn };
  // Entries are never changed in place: a checkpoint replaces the array.
  return copy;
}

let isoMs = 0;
let iso = '';
/** The current time as an ISO string, formatted once per millisecond (every checkpoint stamps its record). */
export function nowIso(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    iso = new Date(now).toISOString();
  }
  return iso;
}

export function newThreadRecord(threadId: string, agentId: string): ThreadRecord {
  const now = nowIso();
  return { threadId, agentId, lastSequence: 0, messageVersion: 0, queue: [], requests: [], createdAt: now, updatedAt: now };
}

export const threadKey = (threadId: string) => `threads/${threadId}`;
export const threadEventsPrefix = (threadId: string) => `thread-events/${threadId}/`;
export const threadEventsKey = (threadId: string, firstSequence: number) => `${threadEventsPrefix(threadId)}${String(firstSequence).padStart(16, '0')}`;
export const activeTurnPrefix = (agentId?: string) => (agentId ? `turns/active/${agentId}/` : 'turns/active/');
export const activeTurnKey = (agentId: string, threadId: string) => `${activeTurnPrefix(agentId)}${threadId}`;
export const agentThreadPrefix = (agentId: string) => `agent-threads/${agentId}/`;
export const agentThreadKey = (agentId: string, threadId: string) => `${agentThreadPrefix(agentId)}${threadId}`;

export const THREAD_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Where a process that picks the thread up continues numbering events: past a gap if the last owner may have shown unpersisted ones. */
export function resumeSequenceBase(record: ThreadRecord, gap: number): number {
  return record.lastSequence + (record.activeTurn && !record.cleanStop ? gap : 0);
}
