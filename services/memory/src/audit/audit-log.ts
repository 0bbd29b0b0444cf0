// The audit log: append-only records of who did what, when, from where,
// stored as system state entries (outside every tenant). Keys embed an
// inverted timestamp, so the store's ascending key order is newest first.
import { randomBytes } from 'node:crypto';
import { effectiveActor, type CallContext } from '@elixirchain/runtime';
import type { AuditEvent } from '@elixirchain/proto/admin';
import type { JsonObject, Store } from '../store/store.js';
import { SYSTEM_PREFIX } from '../tenancy/tenant-scoped-store.js';

const PREFIX = `${SYSTEM_PREFIX}audit/`;
// Far enough ahead to stay positive until the year 2286.
const TIME_CEILING = 9_999_999_999_999;
// Fields whose values never belong in an audit record, whatever a caller sends.
const SECRET_FIELD = /token|secret|password|authorization|api[_-]?key|credential/i;

export interface AuditEntry {
  action: string;
  resource: string;
  /** Tenant whose resource it is. */
  tenant: string;
  details?: JsonObject;
  /** Peer of the original caller when a service reports it; else the call's peer. */
  peer?: string;
}

export interface AuditQuery {
  tenant?: string;
  action?: string;
  actorSubject?: string;
  start?: Date;
  end?: Date;
  limit: number;
  afterId?: string;
}

function scrub(details: JsonObject | undefined): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(details ?? {})) {
    if (SECRET_FIELD.test(k)) continue;
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) ? scrub(v as JsonObject) : v;
  }
  return out;
}

export class AuditLog {
  // Events recorded in the same millisecond still sort newest first: an inverted count within it.
  private lastMs = 0;
  private inMs = 0;

  constructor(private readonly store: Store) {}

  private nextId(ms: number): string {
    this.inMs = ms === this.lastMs ? this.inMs + 1 : 0;
    this.lastMs = ms;
    const time = String(TIME_CEILING - ms).padStart(13, '0');
    const order = String(999_999 - Math.min(this.inMs, 999_999)).padStart(6, '0');
    return `${time}-${order}-${randomBytes(6).toString('hex')}`;
  }

  /** Records what the caller of `call` did (a service's forwarded caller counts as the actor). */
  async record(call: Pick<CallContext, 'principal' | 'peer'>, entry: AuditEntry): Promise<AuditEvent> {
    const now = new Date();
    const id = this.nextId(now.getTime());
    const actor = effectiveActor(call.principal);
    const event: AuditEvent = {
      id,
      time: now,
      actorSubject: actor.subject,
      actorTenant: actor.tenant,
      actorRole: actor.role,
      viaService: call.principal.role === 'service' ? call.principal.subject : '',
      peer: entry.peer || call.peer,
      action: entry.action,
      resource: entry.resource,
      tenant: entry.tenant,
      details: scrub(entry.details),
    };
    await this.store.putState({
      key: PREFIX + id,
      expectedVersion: 0,
      value: { $case: 'structValue', structValue: { ...event, time: now.toISOString() } as unknown as JsonObject },
    });
    return event;
  }

  /** Newest first; filters applied while scanning, at most a bounded number of entries per call. */
  async list(query: AuditQuery): Promise<{ events: AuditEvent[]; nextCursor?: string }> {
    const events: AuditEvent[] = [];
    let afterKey = query.afterId === undefined ? undefined : PREFIX + query.afterId;
    // Events older than `end`… start where `end` would sort.
    if (query.end && afterKey === undefined) afterKey = `${PREFIX}${String(TIME_CEILING - query.end.getTime()).padStart(13, '0')}`;
    for (let scanned = 0; scanned < 5_000; ) {
      const page = await this.store.listState({ prefix: PREFIX, limit: 200, afterKey });
      scanned += page.entries.length;
      for (const entry of page.entries) {
        afterKey = entry.key;
        const event = decode(entry.value?.$case === 'structValue' ? (entry.value.structValue ?? {}) : {});
        if (query.start && event.time && event.time < query.start) return { events };
        if (query.tenant && event.tenant !== query.tenant) continue;
        if (query.action && event.action !== query.action) continue;
        if (query.actorSubject && event.actorSubject !== query.actorSubject) continue;
        events.push(event);
        if (events.length === query.limit) return { events, nextCursor: event.id };
      }
      if (page.nextCursor === undefined) return { events };
    }
    return { events, nextCursor: afterKey?.slice(PREFIX.length) };
  }
}

function decode(raw: JsonObject): AuditEvent {
  const s = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : '');
  return {
    id: s('id'),
    time: s('time') ? new Date(s('time')) : undefined,
    actorSubject: s('actorSubject'),
    actorTenant: s('actorTenant'),
    actorRole: s('actorRole'),
    viaService: s('viaService'),
    peer: s('peer'),
    action: s('action'),
    resource: s('resource'),
    tenant: s('tenant'),
    details: (raw.details as JsonObject | undefined) ?? {},
  };
}
