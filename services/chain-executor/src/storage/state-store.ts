/**
 * The slice of memory's key/value state this service needs. Values are JSON
 * documents. The production implementation is memory's gRPC API
 * (MemoryStateStore); InProcessStateStore serves unit tests and the
 * non-durable mode.
 */
export interface StateEntry {
  key: string;
  value: unknown;
  version: number;
}

export type StateWrite =
  /** `json`: the value already as JSON text (JSON.stringify(value)), when the caller has it; stores use it as is. */
  | { op: 'put'; key: string; value: unknown; json?: string; expectedVersion?: number }
  | { op: 'delete'; key: string };

export interface StatePage {
  entries: StateEntry[];
  nextPageToken: string;
}

export interface StateStore {
  get(key: string): Promise<StateEntry | undefined>;
  /** expectedVersion 0 means "must not exist"; a mismatch rejects with VersionConflictError. */
  put(key: string, value: unknown, expectedVersion?: number): Promise<StateEntry>;
  delete(key: string): Promise<boolean>;
  list(prefix: string, pageSize: number, pageToken: string, keysOnly?: boolean): Promise<StatePage>;
  /**
   * All writes in one durable transaction (all or none). The same `requestId`
   * on a retry makes a batch that already committed answer as it did the first
   * time (its compare-and-sets do not now conflict with themselves).
   */
  batch(writes: StateWrite[], requestId?: string): Promise<void>;
}

export class VersionConflictError extends Error {
  constructor(readonly key: string, readonly currentVersion: number) {
    super(`state "${key}" is at version ${currentVersion}`);
    this.name = 'VersionConflictError';
  }
}

/** Every entry under a prefix, page by page. */
export async function* listAll(store: StateStore, prefix: string, keysOnly = false): AsyncGenerator<StateEntry> {
  let token = '';
  do {
    const page = await store.list(prefix, 500, token, keysOnly);
    yield* page.entries;
    token = page.nextPageToken;
  } while (token !== '');
}
