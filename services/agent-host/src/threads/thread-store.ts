import { createHash, randomBytes } from 'node:crypto';
import type { ThreadEvent } from '@elixirchain/proto/agent';
import type { Message, WriteOperation } from '@elixirchain/proto/memory';
import { errors, type DeepPartial } from '@elixirchain/runtime';
import type { MemoryPort } from '../ports/memory-port.js';
import type { OwnershipFence } from '../ownership/ownership-fence.js';
import { MEMORY_OUTAGE_BUDGET_MS, rideOutMemoryOutage } from './memory-outage.js';
import { GroupCommit, type GroupCommitLimits, type SendBatch } from './group-commit.js';
import { decodeEventEntries, decodeEventSegment, encodeEventEntries, eventSegmentValue } from './thread-event-segment.js';
import {
  activeTurnKey,
  agentThreadKey,
  decodeThreadRecord,
  encodeThreadRecord,
  nowIso,
  threadEventsKey,
  threadEventsPrefix,
  threadKey,
  type ThreadRecord,
} from './thread-record.js';

export interface LoadedThread {
  record: ThreadRecord;
  stateVersion: number;
}

export interface CheckpointWrite {
  record: ThreadRecord;
  /** The record's state version the write expects (0: new thread). */
  stateVersion: number;
  messages?: DeepPartial<Message>[];
  events?: ThreadEvent[];
  activeIndex?: 'put' | 'delete';
  /** First write of a new thread: index it under its agent. */
  indexThread?: boolean;
}

export interface CheckpointResult {
  stateVersion: number;
  messages: Message[];
}

/** Default group commit: two batches in flight per lane, well under memory's 500 operations and 4 MiB messages. */
export const GROUP_COMMIT_LIMITS: GroupCommitLimits = { maxInFlight: 2, maxOperations: 400, maxBytes: 2 * 1024 * 1024 };

/**
 * Thread persistence through the memory service. A checkpoint is one atomic
 * set of writes: the messages of the step (compare-and-set on the thread
 * version), the thread record (compare-and-set on its state version), the
 * events since the last checkpoint and the active-turn index. Checkpoints of
 * different threads that are ready together share one BatchWrite (group
 * commit; atomic, so each checkpoint still commits whole or not at all). Each
 * checkpoint's conditional writes carry request ids unique to that write, so
 * it is retried through an outage of memory and a retry of an attempt that
 * committed replays it.
 */
export class ThreadStore {
  private readonly commits: GroupCommit;
  private readonly sendUnfenced: SendBatch;

  /** With replicas, `fencing` gives the agent's OwnershipFence (or throws ABORTED): checkpoints carry the ownership check. */
  constructor(
    private readonly memory: MemoryPort,
    private readonly fencing?: (agentId: string) => OwnershipFence,
    private readonly outageBudgetMs = MEMORY_OUTAGE_BUDGET_MS,
    limits: GroupCommitLimits = GROUP_COMMIT_LIMITS,
  ) {
    this.commits = new GroupCommit(limits);
    // omitStateValues: only versions are read back; memory need not echo the records we sent.
    this.sendUnfenced = (operations, requestId) => rideOutMemoryOutage(() => this.memory.batchWrite({ atomic: true, operations, requestId, omitStateValues: true }), this.outageBudgetMs);
  }

  async load(threadId: string): Promise<LoadedThread | undefined> {
    const entry = await this.memory.getState(threadKey(threadId));
    if (!entry) return undefined;
    const record = decodeThreadRecord(entry.value);
    if (!record) throw errors.internal('THREAD_RECORD_CORRUPT', `thread ${threadId} has a corrupt record`);
    return { record, stateVersion: entry.version };
  }

  async loadHistory(threadId: string): Promise<Message[]> {
    const messages: Message[] = [];
    let pageToken = '';
    do {
      const page = await this.memory.listMessages({ threadId, pageSize: 1000, pageToken });
      messages.push(...page.messages);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return messages;
  }

  async checkpoint(write: CheckpointWrite): Promise<CheckpointResult> {
    const { record } = write;
    const requestId = checkpointRequestId(record.threadId, write.stateVersion);
    const operations: DeepPartial<WriteOperation>[] = [];
    // What the batch will weigh, roughly but never less (UTF-8 at most 3 bytes a character; a tool result also rides as JSON).
    let bytes = 512;
    const messages = write.messages ?? [];
    if (messages.length > 0) {
      for (const m of messages) bytes += (m.content?.length ?? 0) * (m.toolResult === undefined ? 3 : 6) + 512;
      operations.push({
        operation: {
          $case: 'appendMessages',
          appendMessages: { threadId: record.threadId, messages, expectedVersion: record.messageVersion, requestId: `${requestId}#m` },
        },
      });
    }
    const events = write.events ?? [];
    const carried = carryOrFlush(record, events);
    if (carried.segment) {
      const value = eventSegmentValue(carried.segment.entries);
      bytes += value.bytesValue.length;
      operations.push({ operation: { $case: 'putState', putState: { key: threadEventsKey(record.threadId, carried.segment.from), value } } });
    }
    const next: ThreadRecord = {
      ...record,
      pendingEvents: carried.pending,
      messageVersion: record.messageVersion + messages.length,
      lastSequence: events.length > 0 ? Math.max(record.lastSequence, events[events.length - 1].sequence) : record.lastSequence,
      updatedAt: nowIso(),
    };
    const recordOperation = operations.length;
    const recordValue = encodeThreadRecord(next);
    bytes += recordValue.bytesValue.length;
    operations.push({
      operation: {
        $case: 'putState',
        putState: { key: threadKey(record.threadId), value: recordValue, expectedVersion: write.stateVersion, requestId: `${requestId}#r` },
      },
    });
    if (write.activeIndex === 'put') {
      operations.push({
        operation: { $case: 'putState', putState: { key: activeTurnKey(record.agentId, record.threadId), value: { $case: 'structValue', structValue: { turnId: record.activeTurn?.turnId ?? '' } } } },
      });
    } else if (write.activeIndex === 'delete') {
      operations.push({ operation: { $case: 'deleteState', deleteState: { key: activeTurnKey(record.agentId, record.threadId) } } });
    }
    if (write.indexThread) {
      operations.push({ operation: { $case: 'putState', putState: { key: agentThreadKey(record.agentId, record.threadId), value: { $case: 'structValue', structValue: {} } } } });
    }
    const fence = this.fencing?.(record.agentId);
    const results = fence
      ? await this.commits.write(fence, (ops, id) => rideOutMemoryOutage(() => fence.write(ops, id), this.outageBudgetMs), operations, requestId, bytes)
      : await this.commits.write(this, this.sendUnfenced, operations, requestId, bytes);
    let stateVersion = write.stateVersion + 1;
    let appended: Message[] = [];
    const first = results[0]?.result;
    if (messages.length > 0 && first?.$case === 'appendMessages') appended = first.appendMessages.messages;
    const stored = results[recordOperation]?.result;
    if (stored?.$case === 'putState' && stored.putState.entry) stateVersion = stored.putState.entry.version;
    Object.assign(record, next);
    return { stateVersion, messages: appended };
  }

  /**
   * Persisted events after afterSequence, oldest first. Reads the segments
   * from REPLAY_LOOKBACK_EVENTS before afterSequence on (start_after), not the
   * whole thread: segments never overlap, so once the first one read starts at
   * or before afterSequence + 1, nothing earlier holds a later event. Otherwise
   * (a resume gap, or one very long segment) it reads them all.
   */
  async loadEvents(threadId: string, afterSequence: number): Promise<ThreadEvent[]> {
    // Read first: a checkpoint landing meanwhile only moves events from the record into a segment read after it.
    const pending = (await this.load(threadId))?.record.pendingEvents;
    const carried = pending ? decodeEventEntries(pending.entries, threadId, afterSequence) : [];
    const merge = (stored: ThreadEvent[]) => {
      const bySequence = new Map<number, ThreadEvent>();
      for (const e of [...stored, ...carried]) bySequence.set(e.sequence, e);
      return [...bySequence.values()].sort((a, b) => a.sequence - b.sequence);
    };
    if (afterSequence > REPLAY_LOOKBACK_EVENTS) {
      const from = await this.readSegments(threadId, afterSequence, threadEventsKey(threadId, afterSequence - REPLAY_LOOKBACK_EVENTS));
      const first = Math.min(from.firstSequence ?? Infinity, pending?.from ?? Infinity);
      if (first <= afterSequence + 1) return merge(from.events);
    }
    return merge((await this.readSegments(threadId, afterSequence)).events);
  }

  private async readSegments(threadId: string, afterSequence: number, startAfter = ''): Promise<{ events: ThreadEvent[]; firstSequence: number | undefined }> {
    const events: ThreadEvent[] = [];
    let firstSequence: number | undefined;
    let pageToken = '';
    do {
      const page = await this.memory.listState({ prefix: threadEventsPrefix(threadId), startAfter, pageSize: 500, pageToken });
      for (const entry of page.entries) {
        firstSequence ??= Number(entry.key.slice(threadEventsPrefix(threadId).length));
        events.push(...decodeEventSegment(entry.value, threadId, afterSequence));
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    return { events: events.sort((a, b) => a.sequence - b.sequence), firstSequence };
  }
}

/** Step events a record carries at most before they go to a segment. */
const CARRIED_EVENTS_MAX_BYTES = 4096;

/**
 * Where the events of a checkpoint go: small step events of a running turn
 * ride in the record (no segment key of their own); text deltas, progress,
 * anything large, and whatever the record carries once its turn has ended go
 * to one segment, the record's carried events first (so segments stay in
 * sequence order and never overlap).
 */
function carryOrFlush(record: ThreadRecord, events: readonly ThreadEvent[]): { pending?: ThreadRecord['pendingEvents']; segment?: { from: number; entries: unknown[] } } {
  const pending = record.pendingEvents;
  if (events.length === 0 && (!pending || record.activeTurn)) return { pending };
  const entries = encodeEventEntries(events);
  const from = pending?.from ?? events[0].sequence;
  const all = pending ? [...pending.entries, ...entries] : entries;
  if (record.activeTurn && events.every((e) => e.event?.$case !== 'textDelta' && e.event?.$case !== 'toolCallProgress')) {
    const bytes = (pending?.bytes ?? 0) + JSON.stringify(entries).length;
    if (bytes <= CARRIED_EVENTS_MAX_BYTES) return { pending: { from, entries: all, bytes } };
  }
  return { segment: { from, entries: all } };
}

/** How far before after_sequence a replay starts reading segments (a checkpoint holds at most ~256 streamed events, or one step's). */
const REPLAY_LOOKBACK_EVENTS = 1024;

/** Random per process, so two processes never make the same checkpoint request id. */
const PROCESS_NONCE = randomBytes(9).toString('base64url');
let checkpointCounter = 0;

/**
 * A request id for one checkpoint write: the same for every retry of that
 * write (it is made once, before the first attempt), never the same for any
 * other write, in this process or another, so a replay can only return the
 * outcome of this very write.
 */
export function checkpointRequestId(threadId: string, stateVersion: number): string {
  const thread = threadId.length <= 120 ? threadId : createHash('sha256').update(threadId).digest('base64url').slice(0, 22);
  return `checkpoint/${thread}/${stateVersion}/${PROCESS_NONCE}${(checkpointCounter++).toString(36)}`;
}
