// Every tenant's data lives in one store, under ids the tenant cannot spell:
// `\x1e<tenant>\x1f<id>`. Request validation refuses control characters in
// ids, so no caller can name another tenant's thread, namespace or state key,
// and a foreign id simply does not exist (NOT_FOUND, never PERMISSION_DENIED).
// Tenant "default" (local developer mode) keeps unprefixed ids, so data
// written before tenants existed stays where it was. System records (keys,
// audit) sit under `\x1d`, reachable by no tenant.
import { errors } from '@elixirchain/runtime';
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
  WriteOperation,
  WriteOutcome,
} from '../store/store.js';

export const DEFAULT_TENANT = 'default';
/** Prefix of system records (API keys, audit events): outside every tenant. */
export const SYSTEM_PREFIX = '\u001d';
const TENANT_MARK = '\u001e';
const TENANT_END = '\u001f';
/** Exclusive lower bound of the default tenant's ids: every prefixed id sorts below it. */
const DEFAULT_LOWER_BOUND = '\u001f';

/** The tenant a memory call works in: a service acting for nobody works in "default". */
export function storageTenant(tenant: string): string {
  if (tenant === '*' || tenant === '') return DEFAULT_TENANT;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(tenant) || Buffer.byteLength(tenant) > 128) {
    throw errors.permissionDenied('INVALID_TENANT', 'the caller’s tenant is not a valid tenant name');
  }
  return tenant;
}

export function tenantPrefix(tenant: string): string {
  return tenant === DEFAULT_TENANT ? '' : `${TENANT_MARK}${tenant}${TENANT_END}`;
}

export class TenantScopedStore implements Store {
  readonly kind: string;
  private readonly prefix: string;

  constructor(
    private readonly inner: Store,
    readonly tenant: string,
  ) {
    this.kind = inner.kind;
    this.prefix = tenantPrefix(tenant);
  }

  private in(id: string): string {
    return this.prefix + id;
  }

  private out(id: string): string {
    return id.startsWith(this.prefix) ? id.slice(this.prefix.length) : id;
  }

  private optIn(id: string | undefined): string | undefined {
    return id === undefined ? undefined : this.in(id);
  }

  /** The exclusive start of a listing within this tenant. */
  private after(userAfter: string | undefined, userPrefix = ''): string | undefined {
    if (userAfter !== undefined) return this.in(userAfter);
    if (this.prefix) return userPrefix ? undefined : this.prefix;
    return userPrefix ? undefined : DEFAULT_LOWER_BOUND;
  }

  private thread = (t: Thread): Thread => ({ ...t, id: this.out(t.id) });
  private memory = (m: Memory): Memory => ({ ...m, namespace: this.out(m.namespace) });
  private namespace = (n: Namespace): Namespace => ({ ...n, name: this.out(n.name) });
  private entry = (e: StateEntry): StateEntry => ({ ...e, key: this.out(e.key) });

  private appendResult = (r: AppendMessagesResult): AppendMessagesResult => ({
    ...r,
    thread: this.thread(r.thread),
    messages: r.messages.map((m) => ({ ...m, threadId: this.out(m.threadId) })),
  });

  private appendInput = (input: AppendMessagesInput): AppendMessagesInput => ({ ...input, threadId: this.in(input.threadId), requestId: this.optIn(input.requestId) });
  private putInput = (input: PutStateInput): PutStateInput => ({ ...input, key: this.in(input.key), requestId: this.optIn(input.requestId) });
  private deleteInput = (input: DeleteStateInput): DeleteStateInput => ({ ...input, key: this.in(input.key), requestId: this.optIn(input.requestId) });

  async appendMessages(input: AppendMessagesInput): Promise<AppendMessagesResult> {
    return this.appendResult(await this.inner.appendMessages(this.appendInput(input)));
  }

  async listMessages(input: ListMessagesInput): Promise<ListMessagesResult> {
    const r = await this.inner.listMessages({ ...input, threadId: this.in(input.threadId) });
    return { ...r, thread: this.thread(r.thread), messages: r.messages.map((m) => ({ ...m, threadId: this.out(m.threadId) })) };
  }

  async getThread(threadId: string): Promise<Thread> {
    return this.thread(await this.inner.getThread(this.in(threadId)));
  }

  async listThreads(input: ListThreadsInput): Promise<ListThreadsResult> {
    const r = await this.inner.listThreads({ ...input, prefix: this.in(input.prefix ?? '') || undefined, afterId: this.after(input.afterId, input.prefix) });
    return { threads: r.threads.map(this.thread), nextCursor: r.nextCursor === undefined ? undefined : this.out(r.nextCursor) };
  }

  deleteThread(input: DeleteThreadInput): Promise<{ deleted: boolean }> {
    return this.inner.deleteThread({ ...input, threadId: this.in(input.threadId), requestId: this.optIn(input.requestId) });
  }

  async upsertMemories(input: UpsertMemoriesInput): Promise<UpsertMemoriesResult> {
    const r = await this.inner.upsertMemories({ ...input, namespace: this.in(input.namespace), requestId: this.optIn(input.requestId) });
    return { memories: r.memories.map(this.memory), namespace: this.namespace(r.namespace) };
  }

  async searchMemories(input: SearchMemoriesInput): Promise<SearchMemoriesResult> {
    const r = await this.inner.searchMemories({ ...input, namespace: this.in(input.namespace) });
    return { results: r.results.map((s) => ({ ...s, memory: this.memory(s.memory) })), namespace: this.namespace(r.namespace) };
  }

  async getMemory(namespace: string, id: string, includeVector?: boolean): Promise<Memory> {
    return this.memory(await this.inner.getMemory(this.in(namespace), id, includeVector));
  }

  async listMemories(input: ListMemoriesInput): Promise<ListMemoriesResult> {
    const r = await this.inner.listMemories({ ...input, namespace: this.in(input.namespace) });
    return { ...r, memories: r.memories.map(this.memory) };
  }

  deleteMemory(namespace: string, id: string): Promise<{ deleted: boolean }> {
    return this.inner.deleteMemory(this.in(namespace), id);
  }

  async getNamespace(namespace: string): Promise<Namespace> {
    return this.namespace(await this.inner.getNamespace(this.in(namespace)));
  }

  /** Namespaces have no prefix query: a tenant's are contiguous in name order, so read until they end. */
  async listNamespaces(input: ListNamespacesInput): Promise<ListNamespacesResult> {
    const r = await this.inner.listNamespaces({ ...input, afterName: this.after(input.afterName) });
    const mine = r.namespaces.filter((n) => (this.prefix ? n.name.startsWith(this.prefix) : n.name > DEFAULT_LOWER_BOUND));
    const ended = mine.length < r.namespaces.length;
    return { namespaces: mine.map(this.namespace), nextCursor: ended || r.nextCursor === undefined ? undefined : this.out(r.nextCursor) };
  }

  deleteNamespace(namespace: string): Promise<DeleteNamespaceResult> {
    return this.inner.deleteNamespace(this.in(namespace));
  }

  async putState(input: PutStateInput): Promise<StateEntry> {
    return this.entry(await this.inner.putState(this.putInput(input)));
  }

  async getState(key: string): Promise<StateEntry> {
    return this.entry(await this.inner.getState(this.in(key)));
  }

  async listState(input: ListStateInput): Promise<ListStateResult> {
    const r = await this.inner.listState({ ...input, prefix: this.in(input.prefix), afterKey: this.after(input.afterKey, input.prefix) });
    return { entries: r.entries.map(this.entry), nextCursor: r.nextCursor === undefined ? undefined : this.out(r.nextCursor) };
  }

  deleteState(input: DeleteStateInput): Promise<{ deleted: boolean }> {
    return this.inner.deleteState(this.deleteInput(input));
  }

  async batchWrite(input: BatchWriteInput): Promise<WriteOutcome[]> {
    const operations = input.operations.map((op): WriteOperation => {
      switch (op.$case) {
        case 'appendMessages':
          return { $case: 'appendMessages', appendMessages: this.appendInput(op.appendMessages) };
        case 'putState':
          return { $case: 'putState', putState: this.putInput(op.putState) };
        case 'deleteState':
          return { $case: 'deleteState', deleteState: this.deleteInput(op.deleteState) };
      }
    });
    const outcomes = await this.inner.batchWrite({ ...input, operations });
    return outcomes.map((o): WriteOutcome => {
      switch (o.$case) {
        case 'appendMessages':
          return { $case: 'appendMessages', appendMessages: this.appendResult(o.appendMessages) };
        case 'putState':
          return { $case: 'putState', putState: this.entry(o.putState) };
        default:
          return o;
      }
    });
  }

  /** The shared store is closed by its owner, not by a tenant's view of it. */
  async close(): Promise<void> {}
}
