import {
  BatchWriteRequest,
  type BatchWriteResponse,
  ListMessagesRequest,
  type ListMessagesResponse,
  ListStateRequest,
  type ListStateResponse,
  Message,
  PutStateRequest,
  SearchMemoriesRequest,
  type SearchMemoriesResponse,
  type StateEntry,
  UpsertMemoriesRequest,
  type UpsertMemoriesResponse,
  type Memory,
  type WriteResult,
} from '@elixirchain/proto/memory';
import { errors, type DeepPartial } from '@elixirchain/runtime';
import type { MemoryPort } from './memory-port.js';

const SEGMENT_PREFIX = 'thread-events/';

interface ThreadData {
  version: number;
  messages: Message[];
  createTime: Date;
  updateTime: Date;
}

/**
 * The memory service's contract held in this process: threads, versioned
 * state with compare-and-set, atomic batches. For unit tests and for the
 * "agent-host in-process" benchmark row; nothing here is durable.
 */
export class InProcessMemory implements MemoryPort {
  readonly threads = new Map<string, ThreadData>();
  readonly state = new Map<string, StateEntry>();
  readonly memories = new Map<string, Memory[]>();
  /** Event segment keys by thread, so forgetThread need not scan every key. */
  private readonly segments = new Map<string, string[]>();
  /** Calls by method, so tests and benchmarks can count round trips. */
  readonly calls: Record<string, number> = {};
  private nextId = 1;

  private count(method: string): void {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
  }

  async batchWrite(request: DeepPartial<BatchWriteRequest>): Promise<BatchWriteResponse> {
    this.count('batchWrite');
    // Read as sent (a deep fromPartial copy of every batch would be this fake's cost, not agent-host's); values are kept as given.
    const operations = request.operations ?? [];
    // Check every compare-and-set before applying anything, so an atomic batch is all or nothing.
    const pendingThreadVersions = new Map<string, number>();
    const pendingStateVersions = new Map<string, number>();
    for (const [i, op] of operations.entries()) {
      const o = op?.operation;
      if (!o?.$case) throw errors.invalidArgument(`operations[${i}]`, 'empty operation');
      if (o.$case === 'appendMessages') {
        const r = o.appendMessages ?? {};
        const threadId = r.threadId ?? '';
        const current = pendingThreadVersions.get(threadId) ?? this.threads.get(threadId)?.version ?? 0;
        if (r.expectedVersion !== undefined && r.expectedVersion !== current)
          throw errors.aborted('THREAD_VERSION_MISMATCH', `thread ${threadId} is at version ${current}, not ${r.expectedVersion}`, { currentVersion: String(current) });
        pendingThreadVersions.set(threadId, current + (r.messages?.length ?? 0));
      } else {
        const key = (o.$case === 'putState' ? o.putState?.key : o.deleteState?.key) ?? '';
        const expected = o.$case === 'putState' ? o.putState?.expectedVersion : o.deleteState?.expectedVersion;
        const current = pendingStateVersions.get(key) ?? this.state.get(key)?.version ?? 0;
        if (expected !== undefined && expected !== current)
          throw errors.aborted('STATE_VERSION_MISMATCH', `state ${key} is at version ${current}, not ${expected}`, { currentVersion: String(current) });
        pendingStateVersions.set(key, o.$case === 'putState' ? current + 1 : 0);
      }
    }
    const results: WriteResult[] = [];
    for (const op of operations) {
      const o = op!.operation!;
      if (o.$case === 'appendMessages') {
        const threadId = o.appendMessages?.threadId ?? '';
        const thread = this.threads.get(threadId) ?? { version: 0, messages: [], createTime: new Date(), updateTime: new Date() };
        this.threads.set(threadId, thread);
        const now = new Date();
        const appended = (o.appendMessages?.messages ?? []).map((m) => {
          thread.version += 1;
          // What Message.fromPartial would make of the agent-host's messages (complete but for defaults), without its deep copy.
          const message: Message = {
            id: m?.id || `msg_${this.nextId++}`,
            threadId,
            sequence: thread.version,
            role: m?.role ?? 0,
            content: m?.content ?? '',
            toolCalls: (m?.toolCalls ?? []) as Message['toolCalls'],
            toolCallId: m?.toolCallId ?? '',
            name: m?.name ?? '',
            toolResult: m?.toolResult,
            isError: m?.isError ?? false,
            turnId: m?.turnId ?? '',
            metadata: m?.metadata as Message['metadata'],
            createTime: now,
          };
          thread.messages.push(message);
          return message;
        });
        thread.updateTime = now;
        results.push({ result: { $case: 'appendMessages', appendMessages: { thread: { id: threadId, version: thread.version, createTime: thread.createTime, updateTime: thread.updateTime }, messages: appended, replayed: false } } });
      } else if (o.$case === 'putState') {
        results.push({ result: { $case: 'putState', putState: { entry: this.put({ key: o.putState?.key ?? '', value: o.putState?.value as PutStateRequest['value'], requestId: '' }) } } });
      } else {
        results.push({ result: { $case: 'deleteState', deleteState: { deleted: this.state.delete(o.deleteState?.key ?? '') } } });
      }
    }
    return { results };
  }

  /**
   * Forgets a thread whole: its messages and every state key of it. For
   * benchmarks, whose threads are never used again: a memory service keeps
   * them in its own process and on disk, not in agent-host's heap.
   */
  forgetThread(threadId: string, agentId: string): void {
    this.threads.delete(threadId);
    for (const key of [`threads/${threadId}`, `agent-threads/${agentId}/${threadId}`, `turns/active/${agentId}/${threadId}`, ...(this.segments.get(threadId) ?? [])]) this.state.delete(key);
    this.segments.delete(threadId);
  }

  private put(r: PutStateRequest): StateEntry {
    if (r.key.startsWith(SEGMENT_PREFIX) && !this.state.has(r.key)) {
      const threadId = r.key.slice(SEGMENT_PREFIX.length, r.key.lastIndexOf('/'));
      const keys = this.segments.get(threadId);
      if (keys) keys.push(r.key);
      else this.segments.set(threadId, [r.key]);
    }
    const existing = this.state.get(r.key);
    const now = new Date();
    const entry: StateEntry = { key: r.key, value: r.value, version: (existing?.version ?? 0) + 1, createTime: existing?.createTime ?? now, updateTime: now };
    this.state.set(r.key, entry);
    return entry;
  }

  async getState(key: string): Promise<StateEntry | undefined> {
    this.count('getState');
    return this.state.get(key);
  }

  async putState(partial: DeepPartial<PutStateRequest>): Promise<StateEntry> {
    this.count('putState');
    const r = PutStateRequest.fromPartial(partial);
    const current = this.state.get(r.key)?.version ?? 0;
    if (r.expectedVersion !== undefined && r.expectedVersion !== current)
      throw errors.aborted('STATE_VERSION_MISMATCH', `state ${r.key} is at version ${current}, not ${r.expectedVersion}`, { currentVersion: String(current) });
    return this.put(r);
  }

  async deleteState(key: string, expectedVersion?: number): Promise<boolean> {
    this.count('deleteState');
    const current = this.state.get(key)?.version ?? 0;
    if (expectedVersion !== undefined && expectedVersion !== current)
      throw errors.aborted('STATE_VERSION_MISMATCH', `state ${key} is at version ${current}, not ${expectedVersion}`);
    return this.state.delete(key);
  }

  async listState(partial: DeepPartial<ListStateRequest>): Promise<ListStateResponse> {
    this.count('listState');
    const r = ListStateRequest.fromPartial(partial);
    const keys = [...this.state.keys()].filter((k) => k.startsWith(r.prefix) && (!r.startAfter || k > r.startAfter)).sort();
    const start = r.pageToken ? Number(r.pageToken) : 0;
    const size = r.pageSize > 0 ? r.pageSize : 100;
    const page = keys.slice(start, start + size);
    return {
      entries: page.map((k) => (r.keysOnly ? { ...this.state.get(k)!, value: undefined } : this.state.get(k)!)),
      nextPageToken: start + size < keys.length ? String(start + size) : '',
    };
  }

  async listMessages(partial: DeepPartial<ListMessagesRequest>): Promise<ListMessagesResponse> {
    this.count('listMessages');
    const r = ListMessagesRequest.fromPartial(partial);
    const thread = this.threads.get(r.threadId);
    let messages = (thread?.messages ?? []).filter((m) => m.sequence > r.afterSequence);
    if (r.newestFirst) messages = [...messages].reverse();
    const start = r.pageToken ? Number(r.pageToken) : 0;
    const size = r.pageSize > 0 ? r.pageSize : 100;
    return {
      messages: messages.slice(start, start + size),
      nextPageToken: start + size < messages.length ? String(start + size) : '',
      thread: thread && { id: r.threadId, version: thread.version, createTime: thread.createTime, updateTime: thread.updateTime },
    };
  }

  async upsertMemories(partial: DeepPartial<UpsertMemoriesRequest>): Promise<UpsertMemoriesResponse> {
    this.count('upsertMemories');
    const r = UpsertMemoriesRequest.fromPartial(partial);
    const list = this.memories.get(r.namespace) ?? [];
    const stored = r.memories.map((m) => ({ ...m, id: m.id || `mem_${this.nextId++}`, namespace: r.namespace, vector: [] }));
    list.push(...stored);
    this.memories.set(r.namespace, list);
    return { memories: stored, namespace: { name: r.namespace, embedder: 'in-process-lexical', dimensions: 0, memoryCount: list.length } };
  }

  async searchMemories(partial: DeepPartial<SearchMemoriesRequest>): Promise<SearchMemoriesResponse> {
    this.count('searchMemories');
    const r = SearchMemoriesRequest.fromPartial(partial);
    const words = new Set(r.queryText.toLowerCase().split(/\W+/).filter(Boolean));
    const scored = (this.memories.get(r.namespace) ?? [])
      .map((memory) => {
        const mine = memory.text.toLowerCase().split(/\W+/).filter(Boolean);
        const hits = mine.filter((w) => words.has(w)).length;
        return { memory, score: mine.length === 0 ? 0 : hits / Math.sqrt(mine.length * Math.max(1, words.size)) };
      })
      .filter((s) => s.score > 0 && s.score >= r.minScore)
      .sort((a, b) => b.score - a.score)
      .slice(0, r.topK > 0 ? r.topK : 5);
    return { results: scored };
  }
}
