import type { StateEntry, StatePage, StateStore, StateWrite } from './state-store.js';
import { VersionConflictError } from './state-store.js';

interface StoredEntry {
  key: string;
  /** The value as JSON text, as memory keeps it: what a reader gets back is what JSON round-trips. */
  json: string;
  version: number;
}

const toEntry = (e: StoredEntry): StateEntry => ({ key: e.key, value: JSON.parse(e.json), version: e.version });

/** A StateStore in a Map: unit tests and the non-durable mode (nothing survives the process). */
export class InProcessStateStore implements StateStore {
  private readonly entries = new Map<string, StoredEntry>();
  /** Counts batch() calls, so tests can observe one checkpoint call per step. */
  batches = 0;

  async get(key: string): Promise<StateEntry | undefined> {
    const entry = this.entries.get(key);
    return entry && toEntry(entry);
  }

  async put(key: string, value: unknown, expectedVersion?: number): Promise<StateEntry> {
    return toEntry(this.write(key, value, expectedVersion));
  }

  async delete(key: string): Promise<boolean> {
    return this.entries.delete(key);
  }

  async list(prefix: string, pageSize: number, pageToken: string, keysOnly = false): Promise<StatePage> {
    const keys = [...this.entries.keys()].filter((k) => k.startsWith(prefix) && k > pageToken).sort();
    const page = keys.slice(0, pageSize);
    return {
      entries: page.map((k) => {
        const e = this.entries.get(k)!;
        return keysOnly ? { key: k, value: undefined, version: e.version } : toEntry(e);
      }),
      nextPageToken: keys.length > pageSize ? page[page.length - 1]! : '',
    };
  }

  async batch(writes: StateWrite[]): Promise<void> {
    this.batches++;
    for (const w of writes) {
      if (w.op === 'put' && w.expectedVersion !== undefined) {
        const current = this.entries.get(w.key)?.version ?? 0;
        if (current !== w.expectedVersion) throw new VersionConflictError(w.key, current);
      }
    }
    for (const w of writes) {
      if (w.op === 'put') this.write(w.key, w.value, undefined, w.json);
      else this.entries.delete(w.key);
    }
  }

  private write(key: string, value: unknown, expectedVersion?: number, json = JSON.stringify(value)): StoredEntry {
    const current = this.entries.get(key)?.version ?? 0;
    if (expectedVersion !== undefined && expectedVersion !== current) throw new VersionConflictError(key, current);
    const entry = { key, json, version: current + 1 };
    this.entries.set(key, entry);
    return entry;
  }
}
