import { createHash } from 'node:crypto';
import { Chain, RunStatus } from '@elixirchain/proto/chain';
import type { RunEvent, StepCompleted, StepStarted } from '@elixirchain/proto/chain';
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

/** What one checkpoint of a run carries: its events since the last one, and the run record when it changed. */
export interface RunCheckpoint {
  events: RunEvent[];
  record?: RunRecord;
  /** The run's first checkpoint: the record must not exist yet (an idempotent start raced); VersionConflictError if it does. */
  create?: boolean;
}

/**
 * Where runs and their event logs are kept. Every method that records
 * progress resolves only once the data is durable (for a durable store).
 */
export interface RunCheckpointStore {
  readonly durable: boolean;
  getRun(runId: string): Promise<RunRecord | undefined>;
  /**
   * Queues one checkpoint of a run. `take` is called when the write is
   * assembled (for a durable store: when the group-commit batch it joins is
   * built), so everything the run records until then goes into the same
   * write; it may also be called at once. Resolves once what `take` returned
   * is durable. A run has at most one checkpoint queued and not yet taken.
   */
  checkpoint(runId: string, take: () => RunCheckpoint): Promise<void>;
  loadEvents(runId: string, afterSequence: number): Promise<RunEvent[]>;
  listRuns(filter: RunFilter, pageSize: number, pageToken: string): Promise<{ runs: RunRecord[]; nextPageToken: string }>;
  unfinishedRuns(): AsyncIterable<RunRecord>;
}

const runKey = (id: string) => `runs/${id}`;
const eventPrefix = (id: string) => `run-events/${id}/`;
// Zero-padded so keys sort by sequence.
const eventKey = (id: string, sequence: number) => `${eventPrefix(id)}${String(sequence).padStart(12, '0')}`;

/**
 * The chain a run runs, stored once per distinct definition rather than in
 * every run record (for a 50-step chain it was ~3 KB of each record's 3.4 KB,
 * written with every run): `chain-snapshots/<sha-256 of its JSON>`,
 * content-addressed, so immutable — updating or deleting the chain never
 * changes it, and a chain deleted and re-created with other steps gets
 * another key. A record names it in `chainSnapshot`; records written before
 * hold the chain itself in `chain`, and both are read. Snapshots are never
 * deleted (one small row per distinct definition a run ever used).
 */
interface ChainSnapshot {
  key: string;
  json: unknown;
  text: string;
}

/** Made once per definition object (runs of one version share it: see ChainRepository). */
const chainSnapshots = new WeakMap<Chain, ChainSnapshot>();

function chainSnapshot(chain: Chain): ChainSnapshot {
  let snapshot = chainSnapshots.get(chain);
  if (!snapshot) {
    const json = Chain.toJSON(chain);
    const text = JSON.stringify(json);
    snapshot = { key: `chain-snapshots/${createHash('sha256').update(text).digest('base64url')}`, json, text };
    chainSnapshots.set(chain, snapshot);
  }
  return snapshot;
}

/** Decoded snapshots kept per store (immutable, so never stale); the oldest goes past this many. */
const MAX_CACHED_SNAPSHOTS = 1_024;

function recordToJson(record: RunRecord, snapshot: ChainSnapshot): unknown {
  return {
    ...record,
    chain: undefined,
    chainSnapshot: snapshot.key,
    error: record.error ? Status.toJSON(record.error) : undefined,
    createTime: record.createTime.toISOString(),
    startTime: record.startTime?.toISOString(),
    endTime: record.endTime?.toISOString(),
  };
}

function recordFromJson(json: unknown, chain: Chain): RunRecord {
  const r = json as Record<string, any>;
  return {
    id: r.id,
    chainId: r.chainId,
    chainVersion: r.chainVersion,
    chain,
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

/**
 * Runs in memory's state: `runs/<id>` for the record, `run-events/<id>/<first
 * sequence>` for each checkpoint's events (one row holds every event the run
 * recorded in one group-commit window). Checkpoints go through a
 * group-commit writer: one BatchWrite shared by every run checkpointing at
 * that moment.
 */
export class StateRunCheckpointStore implements RunCheckpointStore {
  readonly durable = true;
  readonly writer: GroupCommitWriter;
  /** Snapshots known to be durable in this store: a record naming one needs no copy of it in its batch. */
  private readonly durableSnapshots = new Set<string>();
  /** Snapshots by key, decoded (or written) by this store. */
  private readonly snapshotChains = new Map<string, Chain>();

  constructor(private readonly store: StateStore) {
    this.writer = new GroupCommitWriter(store);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const entry = await this.store.get(runKey(runId));
    return entry ? this.recordFromEntry(entry.value) : undefined;
  }

  private async recordFromEntry(json: unknown): Promise<RunRecord> {
    const r = json as { id: string; chain?: unknown; chainSnapshot?: string };
    if (r.chainSnapshot === undefined) return recordFromJson(json, Chain.fromJSON(r.chain));
    let chain = this.snapshotChains.get(r.chainSnapshot);
    if (!chain) {
      const entry = await this.store.get(r.chainSnapshot);
      // Written in the same atomic batch as the first record naming it, or before: never absent.
      if (!entry) throw new Error(`run ${r.id}: its chain snapshot ${r.chainSnapshot} is missing`);
      chain = Chain.fromJSON(entry.value);
      this.cacheSnapshot(r.chainSnapshot, chain);
    }
    return recordFromJson(json, chain);
  }

  private cacheSnapshot(key: string, chain: Chain): void {
    if (this.snapshotChains.has(key)) return;
    if (this.snapshotChains.size >= MAX_CACHED_SNAPSHOTS) this.snapshotChains.delete(this.snapshotChains.keys().next().value!);
    this.snapshotChains.set(key, chain);
  }

  checkpoint(runId: string, take: () => RunCheckpoint): Promise<void> {
    let snapshotWritten: ChainSnapshot | undefined;
    let snapshotChain: Chain | undefined;
    const written = this.writer.write(() => {
      const { events, record, create } = take();
      const writes: StateWrite[] = [];
      // Must not exist: two writers of one run (a replica that lost it, and the one that took it
      // over) cannot both append at the same sequence, so the durable log never forks. The
      // conflict fails only this run's writes: the writer retries the batch's others alone.
      if (events.length > 0) for (const row of encodeEventRows(events)) writes.push({ op: 'put', key: eventKey(runId, row.first), value: row.value, json: row.json, expectedVersion: 0 });
      if (record) {
        const snapshot = chainSnapshot(record.chain);
        // In the same atomic batch as the record until a batch carrying it has committed (then it is
        // durable for good: never deleted). Unconditional, so runs sharing a batch may each carry it.
        if (!this.durableSnapshots.has(snapshot.key)) {
          writes.push({ op: 'put', key: snapshot.key, value: snapshot.json, json: snapshot.text });
          snapshotWritten = snapshot;
          snapshotChain = record.chain;
        }
        writes.push({ op: 'put', key: runKey(runId), value: recordToJson(record, snapshot), expectedVersion: create ? 0 : undefined });
      }
      return writes;
    });
    return written.then(() => {
      if (!snapshotWritten) return;
      this.durableSnapshots.add(snapshotWritten.key);
      this.cacheSnapshot(snapshotWritten.key, snapshotChain!);
    });
  }

  async loadEvents(runId: string, afterSequence: number): Promise<RunEvent[]> {
    const events: RunEvent[] = [];
    for await (const entry of listAll(this.store, eventPrefix(runId))) decodeEventRow(runId, entry.value as EventRow, afterSequence, events);
    return events;
  }

  async listRuns(filter: RunFilter, pageSize: number, pageToken: string): Promise<{ runs: RunRecord[]; nextPageToken: string }> {
    const runs: RunRecord[] = [];
    let { token, skip } = decodeListToken(pageToken);
    for (;;) {
      const page = await this.store.list('runs/', 200, token);
      for (let i = skip; i < page.entries.length; i++) {
        const record = await this.recordFromEntry(page.entries[i]!.value);
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
      const record = await this.recordFromEntry(entry.value);
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

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const r = this.records.get(runId);
    return r && { ...r };
  }

  checkpoint(runId: string, take: () => RunCheckpoint): Promise<void> {
    const { events, record, create } = take();
    if (create && this.records.has(runId)) return Promise.reject(new VersionConflictError(`runs/${runId}`, 1));
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

/**
 * One row of a run's log: the events of one checkpoint, sequences `first`,
 * `first + 1`, …, the first at `time` (epoch ms) and each next one `dt[i]` ms
 * after the one before (an ISO string per event costs more to write than the
 * rest of it, and on a slow disk memory's write time grows with the bytes). The two events every step writes are
 * tuples — `[0, path, stepId, kind, attempt]` for step_started and
 * `[1, path, output, seconds, nanos, attempts]` for step_completed — about
 * half the bytes of their JSON objects; other events are their
 * `{ $case, … }` object. A step whose start and result land in the same row
 * (every pure step that completes within one group-commit window on its
 * first attempt, no other event of the step in between) is one tuple for
 * both events, where the start was: `[2, path, kind, output, seconds, nanos]`
 * when the result is the next event and the step id the path's last segment,
 * else `[2, path, kind, output, seconds, nanos, gap, stepId?]` (the result
 * `gap` events later, as map items finish interleaved; the id when it is not
 * the last segment, as for `root/map[3]`); each other stored body takes the
 * next sequence not already taken. About a third fewer bytes. Rows written before this layout hold
 * `events` (whole RunEvents with ISO times); all are read.
 */
type EventRow = { first: number; time: number; dt: number[]; bodies: StoredBody[] } | { events: RunEvent[] };
type RunEventBody = NonNullable<RunEvent['event']>;
type StoredBody =
  | RunEventBody
  | [0, string, string, string, number]
  | [1, string, unknown, number, number, number]
  | [2, string, string, unknown, number, number]
  | [2, string, string, unknown, number, number, number]
  | [2, string, string, unknown, number, number, number, string];

// The tuples name every field of these messages: a field added to either fails to compile here until the tuple carries it.
const TUPLE_FIELDS: [Record<keyof StepStarted, true>, Record<keyof StepCompleted, true>] = [
  { path: true, stepId: true, kind: true, attempt: true },
  { path: true, output: true, duration: true, attempts: true },
];
void TUPLE_FIELDS;

function storedBody(body: RunEventBody): StoredBody {
  if (body.$case === 'stepStarted') {
    const s = body.stepStarted;
    return [0, s.path, s.stepId, s.kind, s.attempt];
  }
  if (body.$case === 'stepCompleted' && body.stepCompleted.output !== undefined) {
    const s = body.stepCompleted;
    return [1, s.path, s.output, s.duration?.seconds ?? 0, s.duration?.nanos ?? 0, s.attempts];
  }
  return body;
}

/** The step id a merged tuple leaves out: the last segment of its path (`root/a/b` → `b`). */
const lastSegment = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** The step path an event is about, if any. */
function pathOf(body: RunEventBody): string | undefined {
  switch (body.$case) {
    case 'stepStarted':
      return body.stepStarted.path;
    case 'stepCompleted':
      return body.stepCompleted.path;
    case 'stepFailed':
      return body.stepFailed.path;
    case 'stepProgress':
      return body.stepProgress.path;
    default:
      return undefined;
  }
}

/** The event bodies one stored body stands for (two for a merged step, the result `gap` events after the start). */
function bodiesFromStored(stored: StoredBody, into: Array<RunEventBody | undefined>, at: number): void {
  if (!Array.isArray(stored)) {
    into[at] = stored;
  } else if (stored[0] === 0) {
    into[at] = { $case: 'stepStarted', stepStarted: { path: stored[1], stepId: stored[2], kind: stored[3], attempt: stored[4] } };
  } else if (stored[0] === 1) {
    into[at] = { $case: 'stepCompleted', stepCompleted: { path: stored[1], output: stored[2], duration: { seconds: stored[3], nanos: stored[4] }, attempts: stored[5] } };
  } else {
    const path = stored[1];
    into[at] = { $case: 'stepStarted', stepStarted: { path, stepId: stored[7] ?? lastSegment(path), kind: stored[2], attempt: 1 } };
    into[at + (stored[6] ?? 1)] = { $case: 'stepCompleted', stepCompleted: { path, output: stored[3], duration: { seconds: stored[4], nanos: stored[5] }, attempts: 1 } };
  }
}

/**
 * A row's JSON stays under this many characters (at most 3 bytes each in
 * UTF-8: under memory's 4 MiB per value): a checkpoint carrying more is
 * split into several rows, each keyed by its own first sequence and written
 * in the same atomic batch. A single event above it is refused by memory, as
 * it always was.
 */
const MAX_ROW_CHARS = 1_000_000;

function encodeEventRows(events: RunEvent[]): Array<{ first: number; value: EventRow; json: string }> {
  const value = encodeEventRow(events);
  const json = JSON.stringify(value);
  if (json.length <= MAX_ROW_CHARS || events.length === 1) return [{ first: events[0]!.sequence, value, json }];
  const half = events.length >>> 1;
  return [...encodeEventRows(events.slice(0, half)), ...encodeEventRows(events.slice(half))];
}

/** A step's start and first-attempt result as one tuple (see EventRow); `gap`: how many events after the start the result came. */
function mergedStep(s: StepStarted, c: StepCompleted, gap: number): StoredBody {
  const merged: StoredBody = [2, s.path, s.kind, c.output, c.duration?.seconds ?? 0, c.duration?.nanos ?? 0];
  const { path, stepId: id } = s;
  const ownId = !(path.length > id.length && path.endsWith(id) && path.charCodeAt(path.length - id.length - 1) === 47); /* '/' */
  if (gap !== 1 || ownId) merged.push(gap);
  if (ownId) merged.push(id);
  return merged;
}

const mergeable = (c: StepCompleted) => c.attempts === 1 && c.output !== undefined;

function encodeEventRow(events: RunEvent[]): EventRow {
  const time = events[0]!.time!.getTime();
  const n = events.length;
  const dt = new Array<number>(n - 1);
  const bodies: StoredBody[] = [];
  /** Step starts that may still take a later result, by path: index of the start in events. */
  let open: Map<string, number> | undefined;
  /** Where each open start's body is in bodies (by its index in events). */
  let bodyOf: number[] | undefined;
  let previous = time;
  for (let i = 0; i < n; i++) {
    const t = events[i]!.time!.getTime();
    if (i > 0) dt[i - 1] = t - previous;
    previous = t;
    const body = events[i]!.event!;
    if (body.$case === 'stepStarted' && body.stepStarted.attempt === 1) {
      const s = body.stepStarted;
      const next = i + 1 < n ? events[i + 1]!.event! : undefined;
      // The common case: its result is the next event (a sequential step).
      if (next?.$case === 'stepCompleted' && next.stepCompleted.path === s.path && mergeable(next.stepCompleted)) {
        bodies.push(mergedStep(s, next.stepCompleted, 1));
        const t2 = events[++i]!.time!.getTime();
        dt[i - 1] = t2 - previous;
        previous = t2;
        continue;
      }
      if (open?.has(s.path)) closeOpen(events, bodies, open, bodyOf!, s.path);
      (open ??= new Map()).set(s.path, i);
      (bodyOf ??= [])[i] = bodies.length;
      bodies.push(0 as unknown as StoredBody); // filled once its result is seen, or at the end
      continue;
    }
    if (open !== undefined && open.size > 0) {
      const path = pathOf(body);
      const start = path === undefined ? undefined : open.get(path);
      if (start !== undefined) {
        // Its result, with nothing else about the step in between: one tuple where the start was.
        if (body.$case === 'stepCompleted' && mergeable(body.stepCompleted)) {
          open.delete(path!);
          bodies[bodyOf![start]!] = mergedStep((events[start]!.event as { stepStarted: StepStarted }).stepStarted, body.stepCompleted, i - start);
          continue;
        }
        closeOpen(events, bodies, open, bodyOf!, path!);
      }
    }
    bodies.push(storedBody(body));
  }
  if (open !== undefined) for (const path of [...open.keys()]) closeOpen(events, bodies, open, bodyOf!, path);
  return { first: events[0]!.sequence, time, dt, bodies };
}

/** An open start that will not take its result in this row: stored alone. */
function closeOpen(events: RunEvent[], bodies: StoredBody[], open: Map<string, number>, bodyOf: number[], path: string): void {
  const start = open.get(path)!;
  open.delete(path);
  bodies[bodyOf[start]!] = storedBody(events[start]!.event!);
}

function decodeEventRow(runId: string, row: EventRow, afterSequence: number, into: RunEvent[]): void {
  if ('events' in row) {
    for (const event of row.events) if (event.sequence > afterSequence) into.push(reviveEvent(event));
    return;
  }
  // A merged step's result goes `gap` events after its start: each next stored body takes the next free slot.
  const bodies = new Array<RunEventBody | undefined>(row.dt.length + 1);
  let at = 0;
  for (const stored of row.bodies) {
    while (bodies[at] !== undefined) at++;
    bodiesFromStored(stored, bodies, at++);
  }
  let time = row.time;
  for (let i = 0; i < bodies.length; i++) {
    if (i > 0) time += row.dt[i - 1]!;
    const sequence = row.first + i;
    if (sequence > afterSequence) into.push(reviveEvent({ sequence, runId, time: new Date(time), event: bodies[i]! }));
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
