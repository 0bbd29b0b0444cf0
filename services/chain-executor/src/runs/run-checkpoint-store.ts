import { Chain, RunStatus } from '@elixirchain/proto/chain';
import type { RunEvent } from '@elixirchain/proto/chain';
import { Status } from '@elixirchain/proto/google/rpc/status';
import { GroupCommitWriter } from '../storage/group-commit-writer.js';
import type { StateStore, StateWrite } from '../storage/state-store.js';
import { listAll, VersionConflictError } from '../storage/state-store.js';
import type { RunRecord } from './run-record.js';
import { UNFINISHED_RUN_STATUSES } from './run-record.js';
import { decodeListToken, encodeListToken } from '../storage/page-token.js';

export interface RunFilter {
  chainId?: string;
  status?: RunStatus;
}

/**
 * Where runs and their event logs are kept. Every method that records
 * progress resolves only once the data is durable (for a durable store).
 */
export interface RunCheckpointStore {
  readonly durable: boolean;
  /** Creates the record; returns the existing one when the id is taken (idempotent start). */
  createRun(record: RunRecord): Promise<{ created: boolean; record: RunRecord }>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** Appends events and, when given, replaces the run record — one write call. */
  checkpoint(runId: string, events: RunEvent[], record?: RunRecord): Promise<void>;
  loadEvents(runId: string, afterSequence: number): Promise<RunEvent[]>;
  listRuns(filter: RunFilter, pageSize: number, pageToken: string): Promise<{ runs: RunRecord[]; nextPageToken: string }>;
  unfinishedRuns(): AsyncIterable<RunRecord>;
}

const runKey = (id: string) => `runs/${id}`;
const eventPrefix = (id: string) => `run-events/${id}/`;
// Zero-padded so keys sort by sequence.
const eventKey = (id: string, sequence: number) => `${eventPrefix(id)}${String(sequence).padStart(12, '0')}`;

function recordToJson(record: RunRecord): unknown {
  return {
    ...record,
    chain: Chain.toJSON(record.chain),
    error: record.error ? Status.toJSON(record.error) : undefined,
    createTime: record.createTime.toISOString(),
    startTime: record.startTime?.toISOString(),
    endTime: record.endTime?.toISOString(),
  };
}

function recordFromJson(json: unknown): RunRecord {
  const r = json as Record<string, any>;
  return {
    id: r.id,
    chainId: r.chainId,
    chainVersion: r.chainVersion,
    chain: Chain.fromJSON(r.chain),
    status: r.status,
    input: r.input ?? null,
    output: r.output,
    error: r.error ? Status.fromJSON(r.error) : undefined,
    failedPath: r.failedPath,
    pausedFor: r.pausedFor,
    requestId: r.requestId ?? '',
    lastSequence: r.lastSequence ?? 0,
    createTime: new Date(r.createTime),
    startTime: r.startTime ? new Date(r.startTime) : undefined,
    endTime: r.endTime ? new Date(r.endTime) : undefined,
  };
}

/** Runs the next start picks up: unfinished ones, and those paused only until an approval arrives. */
const isResumable = (r: RunRecord) => UNFINISHED_RUN_STATUSES.has(r.status) || (r.status === RunStatus.RUN_STATUS_PAUSED && r.pausedFor === 'approval');

interface UnsentCheckpoint {
  events: RunEvent[];
  record?: RunRecord;
  done: Promise<void>;
}

/**
 * Runs in memory's state: `runs/<id>` for the record, `run-events/<id>/<seq>`
 * for each checkpoint's events. Checkpoints go through a group-commit writer:
 * one BatchWrite per step, shared by every run checkpointing at that moment.
 */
export class StateRunCheckpointStore implements RunCheckpointStore {
  readonly durable = true;
  readonly writer: GroupCommitWriter;
  private readonly unsent = new Map<string, UnsentCheckpoint>();

  constructor(private readonly store: StateStore) {
    this.writer = new GroupCommitWriter(store);
  }

  async createRun(record: RunRecord): Promise<{ created: boolean; record: RunRecord }> {
    try {
      await this.store.put(runKey(record.id), recordToJson(record), 0);
      return { created: true, record };
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
      const existing = await this.getRun(record.id);
      if (!existing) throw error;
      return { created: false, record: existing };
    }
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const entry = await this.store.get(runKey(runId));
    return entry ? recordFromJson(entry.value) : undefined;
  }

  checkpoint(runId: string, events: RunEvent[], record?: RunRecord): Promise<void> {
    if (events.length === 0 && !record) return Promise.resolve();
    // Checkpoints of one run that wait for the same batch (parallel branches,
    // map items) merge into one write: fewer, larger rows for memory.
    const queued = this.unsent.get(runId);
    if (queued) {
      for (const e of events) queued.events.push(e);
      if (record) queued.record = record;
      return queued.done;
    }
    const entry: UnsentCheckpoint = { events: [...events], record, done: Promise.resolve() };
    this.unsent.set(runId, entry);
    entry.done = this.writer.write(() => {
      this.unsent.delete(runId);
      const writes: StateWrite[] = [];
      // Events are stored as they are (JSON.stringify turns `time` into an ISO string; loadEvents revives it).
      if (entry.events.length > 0) writes.push({ op: 'put', key: eventKey(runId, entry.events[0]!.sequence), value: { events: entry.events } });
      if (entry.record) writes.push({ op: 'put', key: runKey(runId), value: recordToJson(entry.record) });
      return writes;
    });
    return entry.done;
  }

  async loadEvents(runId: string, afterSequence: number): Promise<RunEvent[]> {
    const events: RunEvent[] = [];
    for await (const entry of listAll(this.store, eventPrefix(runId))) {
      for (const event of (entry.value as { events: RunEvent[] }).events) {
        if (event.sequence <= afterSequence) continue;
        events.push(reviveEvent(event));
      }
    }
    return events;
  }

  async listRuns(filter: RunFilter, pageSize: number, pageToken: string): Promise<{ runs: RunRecord[]; nextPageToken: string }> {
    const runs: RunRecord[] = [];
    let { token, skip } = decodeListToken(pageToken);
    for (;;) {
      const page = await this.store.list('runs/', 200, token);
      for (let i = skip; i < page.entries.length; i++) {
        const record = recordFromJson(page.entries[i]!.value);
        if (filter.chainId && record.chainId !== filter.chainId) continue;
        if (filter.status && record.status !== filter.status) continue;
        runs.push(record);
        if (runs.length === pageSize) {
          const more = i + 1 < page.entries.length || page.nextPageToken !== '';
          return { runs, nextPageToken: more ? encodeListToken(token, i + 1) : '' };
        }
      }
      if (page.nextPageToken === '') return { runs, nextPageToken: '' };
      token = page.nextPageToken;
      skip = 0;
    }
  }

  async *unfinishedRuns(): AsyncIterable<RunRecord> {
    for await (const entry of listAll(this.store, 'runs/')) {
      const record = recordFromJson(entry.value);
      if (isResumable(record)) yield record;
    }
  }
}

/**
 * Keeps runs in this process only: the non-durable mode (and the baseline
 * the benchmark compares durable checkpointing with). A restart loses them.
 */
export class EphemeralRunCheckpointStore implements RunCheckpointStore {
  readonly durable = false;
  private readonly records = new Map<string, RunRecord>();
  private readonly events = new Map<string, RunEvent[]>();

  async createRun(record: RunRecord): Promise<{ created: boolean; record: RunRecord }> {
    const existing = this.records.get(record.id);
    if (existing) return { created: false, record: { ...existing } };
    this.records.set(record.id, { ...record });
    return { created: true, record };
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const r = this.records.get(runId);
    return r && { ...r };
  }

  checkpoint(runId: string, events: RunEvent[], record?: RunRecord): Promise<void> {
    if (events.length > 0) {
      let log = this.events.get(runId);
      if (!log) this.events.set(runId, (log = []));
      for (const e of events) log.push(e);
    }
    if (record) this.records.set(runId, { ...record });
    return Promise.resolve();
  }

  async loadEvents(runId: string, afterSequence: number): Promise<RunEvent[]> {
    return (this.events.get(runId) ?? []).filter((e) => e.sequence > afterSequence);
  }

  async listRuns(filter: RunFilter, pageSize: number, pageToken: string): Promise<{ runs: RunRecord[]; nextPageToken: string }> {
    const { skip } = decodeListToken(pageToken);
    const all = [...this.records.values()]
      .filter((r) => (!filter.chainId || r.chainId === filter.chainId) && (!filter.status || r.status === filter.status))
      .sort((a, b) => a.id.localeCompare(b.id));
    const runs = all.slice(skip, skip + pageSize);
    return { runs, nextPageToken: skip + pageSize < all.length ? encodeListToken('', skip + pageSize) : '' };
  }

  async *unfinishedRuns(): AsyncIterable<RunRecord> {
    for (const r of this.records.values()) if (isResumable(r)) yield { ...r };
  }
}

/** Undoes what JSON did to an event: `time` back to a Date, Status detail bytes back to a Buffer. */
function reviveEvent(event: RunEvent): RunEvent {
  event.time = event.time ? new Date(event.time) : undefined;
  const body = event.event;
  const status = body?.$case === 'stepFailed' ? body.stepFailed.error : body?.$case === 'runFailed' ? body.runFailed.error : undefined;
  for (const detail of status?.details ?? []) {
    const value = detail.value as unknown;
    if (value instanceof Uint8Array) continue;
    const bytes = value as { type?: string; data?: number[] } | Record<string, number>;
    detail.value = Buffer.from(Array.isArray((bytes as { data?: number[] }).data) ? (bytes as { data: number[] }).data : Object.values(bytes as Record<string, number>));
  }
  return event;
}
