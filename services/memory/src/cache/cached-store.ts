// A read-through cache in front of any Store: hot threads (their metadata and
// the message pages an agent re-reads), memories, namespaces and state entries,
// in one LRU bounded by bytes. Every write invalidates what it touches, before
// and after it runs; a read only fills the cache when no write to its keys
// started since the read began, so a slow read cannot put back stale data.
// Cached values are shared: callers must treat results as immutable.
import type {
  AppendMessagesInput,
  AppendMessagesResult,
  BatchWriteInput,
  DeleteNamespaceResult,
  DeleteStateInput,
  DeleteThreadInput,
  ListMemoriesInput,
  ListMemoriesResult,
  ListMessagesInput,
  ListMessagesResult,
  ListNamespacesInput,
  ListNamespacesResult,
  ListStateInput,
  ListStateResult,
  ListThreadsInput,
  ListThreadsResult,
  Memory,
  Namespace,
  PutStateInput,
  SearchMemoriesInput,
  SearchMemoriesResult,
  StateEntry,
  Store,
  Thread,
  UpsertMemoriesInput,
  UpsertMemoriesResult,
  WriteOutcome,
} from '../store/store.js';
import { ByteLru, type LruStats } from './byte-lru.js';
import { estimateBytes } from './estimate-bytes.js';

export interface CachedStoreOptions {
  maxBytes?: number;
}

const MAX_TRACKED_GROUPS = 100_000;

export class CachedStore implements Store {
  private readonly lru: ByteLru<string, unknown>;
  /** Cache keys per invalidation group (a thread, a memory, a namespace, a state key). */
  private readonly keysByGroup = new Map<string, Set<string>>();
  private readonly groupsByKey = new Map<string, string[]>();
  /** Sequence of the last write that touched each group. */
  private readonly lastWrite = new Map<string, number>();
  private writeSeq = 0;
  private writeFloor = 0;

  constructor(
    readonly inner: Store,
    options: CachedStoreOptions = {},
  ) {
    this.lru = new ByteLru(
      options.maxBytes ?? 64 * 1024 * 1024,
      (key, value) => 64 + key.length * 2 + estimateBytes(value),
      (key) => this.forget(key),
    );
  }

  /**
   * Called after every write with the groups it touched (the cache-group
   * names are opaque strings): how other replicas' caches hear about it
   * (RedisCacheInvalidation).
   */
  onWrite: ((groups: string[]) => void) | undefined;

  get kind(): string {
    return this.inner.kind;
  }

  /** Drops what another replica's write touched; a read in flight for those groups will not fill the cache. */
  invalidateGroups(groups: string[]): void {
    this.invalidate(groups);
  }

  /** Drops everything (e.g. after missing invalidations while disconnected). */
  invalidateAll(): void {
    this.writeSeq += 1;
    this.writeFloor = this.writeSeq;
    this.lastWrite.clear();
    this.lru.clear();
    this.groupsByKey.clear();
    this.keysByGroup.clear();
  }

  stats(): LruStats {
    return this.lru.stats();
  }

  // ------------------------------------------------------------ plumbing

  private forget(key: string): void {
    for (const g of this.groupsByKey.get(key) ?? []) this.keysByGroup.get(g)?.delete(key);
    this.groupsByKey.delete(key);
  }

  private invalidate(groups: string[]): void {
    this.writeSeq += 1;
    if (this.lastWrite.size > MAX_TRACKED_GROUPS) {
      // Forget old write marks; reads that began before now will not fill.
      this.lastWrite.clear();
      this.writeFloor = this.writeSeq;
    }
    for (const g of groups) {
      this.lastWrite.set(g, this.writeSeq);
      const keys = this.keysByGroup.get(g);
      if (!keys) continue;
      for (const key of [...keys]) {
        this.lru.delete(key);
        this.forget(key);
      }
      this.keysByGroup.delete(g);
    }
  }

  private async write<T>(groups: string[], fn: () => Promise<T>): Promise<T> {
    this.invalidate(groups);
    try {
      return await fn();
    } finally {
      this.invalidate(groups);
      this.onWrite?.(groups);
    }
  }

  private async read<T>(key: string, groups: string[], fn: () => Promise<T>, fresh?: (v: T) => boolean): Promise<T> {
    const hit = this.lru.get(key) as T | undefined;
    if (hit !== undefined) {
      if (!fresh || fresh(hit)) return hit;
      this.lru.delete(key);
    }
    const started = this.writeSeq;
    const value = await fn();
    const stale = started < this.writeFloor || groups.some((g) => (this.lastWrite.get(g) ?? 0) > started);
    if (!stale) {
      this.lru.set(key, value);
      this.groupsByKey.set(key, groups);
      for (const g of groups) {
        let keys = this.keysByGroup.get(g);
        if (!keys) this.keysByGroup.set(g, (keys = new Set()));
        keys.add(key);
      }
    }
    return value;
  }

  private static thread = (id: string) => `t\0${id}`;
  private static ns = (name: string) => `n\0${name}`;
  private static memory = (ns: string, id: string) => `m\0${ns}\0${id}`;
  private static state = (key: string) => `s\0${key}`;

  // ------------------------------------------------------------ threads

  appendMessages(input: AppendMessagesInput): Promise<AppendMessagesResult> {
    return this.write([CachedStore.thread(input.threadId)], () => this.inner.appendMessages(input));
  }

  listMessages(input: ListMessagesInput): Promise<ListMessagesResult> {
    const g = CachedStore.thread(input.threadId);
    const key = `lm\0${input.threadId}\0${input.limit}\0${input.newestFirst}\0${input.afterSequence ?? ''}\0${input.beforeSequence ?? ''}`;
    return this.read(key, [g], () => this.inner.listMessages(input));
  }

  getThread(threadId: string): Promise<Thread> {
    const g = CachedStore.thread(threadId);
    return this.read(`gt\0${threadId}`, [g], () => this.inner.getThread(threadId));
  }

  listThreads(input: ListThreadsInput): Promise<ListThreadsResult> {
    return this.inner.listThreads(input);
  }

  deleteThread(input: DeleteThreadInput): Promise<{ deleted: boolean }> {
    return this.write([CachedStore.thread(input.threadId)], () => this.inner.deleteThread(input));
  }

  // ------------------------------------------------------------ memories

  upsertMemories(input: UpsertMemoriesInput): Promise<UpsertMemoriesResult> {
    const groups = [CachedStore.ns(input.namespace), ...input.memories.map((m) => CachedStore.memory(input.namespace, m.id))];
    return this.write(groups, () => this.inner.upsertMemories(input));
  }

  searchMemories(input: SearchMemoriesInput): Promise<SearchMemoriesResult> {
    return this.inner.searchMemories(input);
  }

  getMemory(namespace: string, id: string, includeVector = false): Promise<Memory> {
    const groups = [CachedStore.ns(namespace), CachedStore.memory(namespace, id)];
    return this.read(`gm\0${namespace}\0${id}\0${includeVector}`, groups, () => this.inner.getMemory(namespace, id, includeVector));
  }

  listMemories(input: ListMemoriesInput): Promise<ListMemoriesResult> {
    return this.inner.listMemories(input);
  }

  deleteMemory(namespace: string, id: string): Promise<{ deleted: boolean }> {
    return this.write([CachedStore.ns(namespace), CachedStore.memory(namespace, id)], () =>
      this.inner.deleteMemory(namespace, id),
    );
  }

  getNamespace(namespace: string): Promise<Namespace> {
    return this.read(`gn\0${namespace}`, [CachedStore.ns(namespace)], () => this.inner.getNamespace(namespace));
  }

  listNamespaces(input: ListNamespacesInput): Promise<ListNamespacesResult> {
    return this.inner.listNamespaces(input);
  }

  deleteNamespace(namespace: string): Promise<DeleteNamespaceResult> {
    // Every cached memory is also filed under its namespace's group.
    return this.write([CachedStore.ns(namespace)], () => this.inner.deleteNamespace(namespace));
  }

  // ------------------------------------------------------------ state

  putState(input: PutStateInput): Promise<StateEntry> {
    return this.write([CachedStore.state(input.key)], () => this.inner.putState(input));
  }

  getState(key: string): Promise<StateEntry> {
    return this.read(`gs\0${key}`, [CachedStore.state(key)], () => this.inner.getState(key), (entry) =>
      entry.expireTime === undefined ? true : entry.expireTime.getTime() > Date.now(),
    );
  }

  listState(input: ListStateInput): Promise<ListStateResult> {
    return this.inner.listState(input);
  }

  deleteState(input: DeleteStateInput): Promise<{ deleted: boolean }> {
    return this.write([CachedStore.state(input.key)], () => this.inner.deleteState(input));
  }

  batchWrite(input: BatchWriteInput): Promise<WriteOutcome[]> {
    const groups = input.operations.map((op) => {
      switch (op.$case) {
        case 'appendMessages':
          return CachedStore.thread(op.appendMessages.threadId);
        case 'putState':
          return CachedStore.state(op.putState.key);
        case 'deleteState':
          return CachedStore.state(op.deleteState.key);
      }
    });
    return this.write(groups, () => this.inner.batchWrite(input));
  }

  close(): Promise<void> {
    this.lru.clear();
    return this.inner.close();
  }
}
