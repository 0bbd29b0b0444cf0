// The storage interface every memory backend implements (SQLite, PostgreSQL,
// MongoDB). It speaks in already-validated, already-embedded values: the gRPC
// layer validates input, embeds text and encodes page tokens; a backend only
// stores, filters and ranks. Every backend must pass
// test/contract/store-contract.ts (`@elixirchain/memory/contract`).
//
// Errors: backends throw the factories in ./store-errors.ts —
//   ABORTED  VERSION_CONFLICT (metadata.currentVersion) on a CAS miss,
//   NOT_FOUND for a missing thread / namespace / memory / state key on reads,
//   INVALID_ARGUMENT DIMENSION_MISMATCH / INVALID_VECTOR / INVALID_FILTER,
//   FAILED_PRECONDITION REQUEST_ID_REUSED when a request_id comes back for a
//   different operation or target.
import type {
  Memory,
  MetadataFilter,
  Message,
  Namespace,
  StateEntry,
  Thread,
} from '@elixirchain/proto/memory';

export type { Memory, MetadataFilter, Message, Namespace, StateEntry, Thread };

/** JSON object as carried by google.protobuf.Struct. */
export type JsonObject = { [key: string]: unknown };

// ---------------------------------------------------------------- threads

/** A message to append; id, sequence, threadId and createTime are assigned by the store when empty. */
export type MessageInput = Omit<Message, 'threadId' | 'sequence' | 'createTime'> & {
  createTime?: Date | undefined;
};

export interface AppendMessagesInput {
  threadId: string;
  messages: MessageInput[];
  /** When set the thread must be at exactly this version (0: absent or empty). */
  expectedVersion?: number | undefined;
  /** A retry with the same id returns the first outcome with replayed=true and writes nothing. */
  requestId?: string | undefined;
  /** Shallow-merged into the thread's metadata. */
  threadMetadata?: JsonObject | undefined;
}

export interface AppendMessagesResult {
  thread: Thread;
  messages: Message[];
  replayed: boolean;
}

export interface ListMessagesInput {
  threadId: string;
  limit: number;
  /** false: ascending sequence; true: descending. */
  newestFirst: boolean;
  /**
   * Exclusive cursor: ascending lists return sequence > after;
   * descending lists return sequence < before.
   */
  afterSequence?: number | undefined;
  beforeSequence?: number | undefined;
}

export interface ListMessagesResult {
  thread: Thread;
  messages: Message[];
  /** Sequence to continue from (pass as afterSequence/beforeSequence), absent on the last page. */
  nextCursor?: number | undefined;
}

export interface ListThreadsInput {
  limit: number;
  prefix?: string | undefined;
  /** Exclusive: threads whose id sorts after this (byte order). */
  afterId?: string | undefined;
}

export interface ListThreadsResult {
  threads: Thread[];
  nextCursor?: string | undefined;
}

export interface DeleteThreadInput {
  threadId: string;
  expectedVersion?: number | undefined;
  requestId?: string | undefined;
}

// ---------------------------------------------------------------- memories

export interface MemoryInput {
  /** Required: the service assigns ids before calling the store. */
  id: string;
  text: string;
  metadata?: JsonObject | undefined;
  /** Required: the service embeds text before calling the store. */
  vector: ArrayLike<number>;
}

export interface UpsertMemoriesInput {
  namespace: string;
  memories: MemoryInput[];
  /** Recorded when the namespace is created by this call; ignored for an existing one. */
  embedder: string;
  /** Dimensions of a namespace created by this call; must equal every vector's length. */
  dimensions: number;
  requestId?: string | undefined;
}

export interface UpsertMemoriesResult {
  memories: Memory[];
  namespace: Namespace;
}

export interface SearchMemoriesInput {
  namespace: string;
  vector: ArrayLike<number>;
  topK: number;
  filter?: MetadataFilter | undefined;
  /** Cosine similarity threshold; results below it are dropped. Undefined: no threshold. */
  minScore?: number | undefined;
  includeVectors?: boolean | undefined;
}

export interface ScoredMemoryResult {
  memory: Memory;
  /** Cosine similarity in [-1, 1]; results are ordered by it, highest first, ties by id. */
  score: number;
}

export interface SearchMemoriesResult {
  results: ScoredMemoryResult[];
  namespace: Namespace;
}

export interface ListMemoriesInput {
  namespace: string;
  limit: number;
  filter?: MetadataFilter | undefined;
  /** Exclusive: memories whose id sorts after this (byte order). */
  afterId?: string | undefined;
  includeVectors?: boolean | undefined;
}

export interface ListMemoriesResult {
  memories: Memory[];
  nextCursor?: string | undefined;
}

export interface ListNamespacesInput {
  limit: number;
  afterName?: string | undefined;
}

export interface ListNamespacesResult {
  namespaces: Namespace[];
  nextCursor?: string | undefined;
}

export interface DeleteNamespaceResult {
  deleted: boolean;
  deletedMemories: number;
}

// ---------------------------------------------------------------- state

export type StateValue =
  | { $case: 'bytesValue'; bytesValue: Buffer }
  | { $case: 'structValue'; structValue: JsonObject };

export interface PutStateInput {
  key: string;
  value: StateValue;
  /** When set the entry must be at exactly this version (0: must not exist or be expired). */
  expectedVersion?: number | undefined;
  requestId?: string | undefined;
  /** Time to live in milliseconds; the entry reads as absent after it. Undefined: no expiry. */
  ttlMs?: number | undefined;
}

export interface DeleteStateInput {
  key: string;
  expectedVersion?: number | undefined;
  requestId?: string | undefined;
}

export interface ListStateInput {
  prefix: string;
  limit: number;
  /** Exclusive: keys that sort after this (byte order). */
  afterKey?: string | undefined;
  keysOnly?: boolean | undefined;
}

export interface ListStateResult {
  entries: StateEntry[];
  nextCursor?: string | undefined;
}

// ---------------------------------------------------------------- batches

export type WriteOperation =
  | { $case: 'appendMessages'; appendMessages: AppendMessagesInput }
  | { $case: 'putState'; putState: PutStateInput }
  | { $case: 'deleteState'; deleteState: DeleteStateInput };

export type WriteOutcome =
  | { $case: 'appendMessages'; appendMessages: AppendMessagesResult }
  | { $case: 'putState'; putState: StateEntry }
  | { $case: 'deleteState'; deleteState: { deleted: boolean } }
  /** Only in non-atomic batches: the error this operation failed with (a StoreError). */
  | { $case: 'error'; error: Error };

export interface BatchWriteInput {
  operations: WriteOperation[];
  /**
   * true: all operations commit together or none does; the first failure is
   * thrown (its metadata gains operationIndex).
   * false: each operation stands alone; failures are reported in place.
   * Either way the batch costs one durable commit.
   */
  atomic: boolean;
}

// ---------------------------------------------------------------- the interface

export interface Store {
  /** Short backend name for logs and metrics ("sqlite", "postgres", "mongodb"). */
  readonly kind: string;

  // threads
  appendMessages(input: AppendMessagesInput): Promise<AppendMessagesResult>;
  /** NOT_FOUND when the thread does not exist. */
  listMessages(input: ListMessagesInput): Promise<ListMessagesResult>;
  /** NOT_FOUND when the thread does not exist. */
  getThread(threadId: string): Promise<Thread>;
  listThreads(input: ListThreadsInput): Promise<ListThreadsResult>;
  /** Deletes the thread and its messages; false when it did not exist (ABORTED on CAS miss). */
  deleteThread(input: DeleteThreadInput): Promise<{ deleted: boolean }>;

  // semantic memories
  /** Creates the namespace on first use; DIMENSION_MISMATCH for vectors of another size. */
  upsertMemories(input: UpsertMemoriesInput): Promise<UpsertMemoriesResult>;
  /** NOT_FOUND for a missing namespace. */
  searchMemories(input: SearchMemoriesInput): Promise<SearchMemoriesResult>;
  /** NOT_FOUND for a missing namespace or memory. */
  getMemory(namespace: string, id: string, includeVector?: boolean): Promise<Memory>;
  /** NOT_FOUND for a missing namespace. */
  listMemories(input: ListMemoriesInput): Promise<ListMemoriesResult>;
  deleteMemory(namespace: string, id: string): Promise<{ deleted: boolean }>;
  /** NOT_FOUND for a missing namespace. */
  getNamespace(namespace: string): Promise<Namespace>;
  listNamespaces(input: ListNamespacesInput): Promise<ListNamespacesResult>;
  /** Deletes the namespace and every memory in it. */
  deleteNamespace(namespace: string): Promise<DeleteNamespaceResult>;

  // key/value state
  putState(input: PutStateInput): Promise<StateEntry>;
  /** NOT_FOUND when absent or expired. */
  getState(key: string): Promise<StateEntry>;
  listState(input: ListStateInput): Promise<ListStateResult>;
  deleteState(input: DeleteStateInput): Promise<{ deleted: boolean }>;

  /** Several writes in one transaction (see BatchWriteInput.atomic). */
  batchWrite(input: BatchWriteInput): Promise<WriteOutcome[]>;

  /** Releases connections / file handles. Idempotent. */
  close(): Promise<void>;
}
