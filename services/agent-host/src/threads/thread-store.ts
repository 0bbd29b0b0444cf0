import { createHash } from 'node:crypto';
import { ThreadEvent } from '@elixirchain/proto/agent';
import type { Message, WriteOperation } from '@elixirchain/proto/memory';
import { errors, type DeepPartial } from '@elixirchain/runtime';
import type { MemoryPort } from '../ports/memory-port.js';
import type { OwnershipFence } from '../ownership/ownership-fence.js';
import { MEMORY_OUTAGE_BUDGET_MS, rideOutMemoryOutage } from './memory-outage.js';
import {
  activeTurnKey,
  agentThreadKey,
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

/**
 * Thread persistence through the memory service. A checkpoint is one atomic
 * BatchWrite: the messages of the step (compare-and-set on the thread
 * version), the thread record (compare-and-set on its state version), the
 * events since the last checkpoint and the active-turn index. Each batch
 * has a request_id derived from what it writes, so it is retried through an
 * outage of memory and a retry of an attempt that committed replays it.
 */
export class ThreadStore {
  /** With replicas, `fencing` gives the agent's OwnershipFence (or throws ABORTED): checkpoints carry the ownership check. */
  constructor(
    private readonly memory: MemoryPort,
    private readonly fencing?: (agentId: string) => OwnershipFence,
    private readonly outageBudgetMs = MEMORY_OUTAGE_BUDGET_MS,
  ) {}

  async load(threadId: string): Promise<LoadedThread | undefined> {
    const entry = await this.memory.getState(threadKey(threadId));
    if (!entry) return undefined;
    if (entry.value?.$case !== 'structValue') throw errors.internal('THREAD_RECORD_CORRUPT', `thread ${threadId} has a corrupt record`);
    return { record: entry.value.structValue as ThreadRecord, stateVersion: entry.version };
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
    const operations: DeepPartial<WriteOperation>[] = [];
    const messages = write.messages ?? [];
    if (messages.length > 0) {
      operations.push({
        operation: {
          $case: 'appendMessages',
          appendMessages: { threadId: record.threadId, messages, expectedVersion: record.messageVersion },
        },
      });
    }
    const events = write.events ?? [];
    if (events.length > 0) {
      operations.push({
        operation: {
          $case: 'putState',
          putState: {
            key: threadEventsKey(record.threadId, events[0].sequence),
            value: { $case: 'structValue', structValue: { events: events.map(encodeEvent) } },
          },
        },
      });
    }
    const next: ThreadRecord = {
      ...record,
      messageVersion: record.messageVersion + messages.length,
      lastSequence: events.length > 0 ? Math.max(record.lastSequence, events[events.length - 1].sequence) : record.lastSequence,
      updatedAt: new Date().toISOString(),
    };
    operations.push({
      operation: {
        $case: 'putState',
        putState: { key: threadKey(record.threadId), value: { $case: 'structValue', structValue: withoutUndefined(next) }, expectedVersion: write.stateVersion },
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
    const requestId = checkpointRequestId(record.threadId, write.stateVersion, operations);
    const fence = this.fencing?.(record.agentId);
    const response = await rideOutMemoryOutage(
      () => (fence ? fence.write(operations, requestId) : this.memory.batchWrite({ atomic: true, operations, requestId })),
      this.outageBudgetMs,
    );
    let stateVersion = write.stateVersion + 1;
    let appended: Message[] = [];
    for (const result of response.results) {
      const r = result.result;
      if (r?.$case === 'appendMessages') appended = r.appendMessages.messages;
      if (r?.$case === 'putState' && r.putState.entry?.key === threadKey(record.threadId)) stateVersion = r.putState.entry.version;
    }
    Object.assign(record, next);
    return { stateVersion, messages: appended };
  }

  /** Persisted events after afterSequence, oldest first. */
  async loadEvents(threadId: string, afterSequence: number): Promise<ThreadEvent[]> {
    const out: ThreadEvent[] = [];
    let pageToken = '';
    do {
      const page = await this.memory.listState({ prefix: threadEventsPrefix(threadId), pageSize: 500, pageToken });
      for (const entry of page.entries) {
        if (entry.value?.$case !== 'structValue') continue;
        for (const json of (entry.value.structValue?.events as unknown[] | undefined) ?? []) {
          const event = decodeEvent(json as Record<string, unknown>, threadId);
          if (event.sequence > afterSequence) out.push(event);
        }
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out.sort((a, b) => a.sequence - b.sequence);
  }
}

/**
 * The same checkpoint (thread, expected record version, content) always gets
 * the same request_id, and a different one never does: a replay can only
 * return the outcome of this very write.
 */
export function checkpointRequestId(threadId: string, stateVersion: number, operations: DeepPartial<WriteOperation>[]): string {
  const digest = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 22);
  const thread = threadId.length <= 120 ? threadId : digest(threadId);
  return `checkpoint/${thread}/${stateVersion}/${digest(JSON.stringify(operations))}`;
}

/** Struct values cannot hold undefined; drop such keys rather than store empty values. */
function withoutUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutUndefined) as T;
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
  return out as T;
}

/**
 * Text deltas are most of a thread's events: store them as { s, u, m, d }
 * (sequence, turn, time, text) instead of the full JSON form; the rest keep
 * ThreadEvent's JSON.
 */
function encodeEvent(event: ThreadEvent): Record<string, unknown> {
  if (event.event?.$case === 'textDelta') return { s: event.sequence, u: event.turnId, m: event.time?.getTime() ?? 0, d: event.event.textDelta.text };
  return ThreadEvent.toJSON(event) as Record<string, unknown>;
}

function decodeEvent(json: Record<string, unknown>, threadId: string): ThreadEvent {
  if (typeof json.d === 'string') {
    return { sequence: Number(json.s), threadId, turnId: String(json.u ?? ''), time: new Date(Number(json.m ?? 0)), event: { $case: 'textDelta', textDelta: { text: json.d } } };
  }
  return ThreadEvent.fromJSON(json);
}
