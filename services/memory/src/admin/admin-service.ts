// AdminService handlers: API keys (created, listed, revoked by admins;
// read by services to verify bearer keys) and the audit log. Admins of tenant
// "default" are the operators of the mesh and manage every tenant; an admin of
// any other tenant manages only its own tenant's keys and sees only its events.
import { defineService, effectiveActor, errors, effectiveTenant, isRole, type CallContext, type ServiceBinding } from '@elixirchain/runtime';
import { AdminServiceDefinition, type ApiKey } from '@elixirchain/proto/admin';
import type { AuditLog } from '../audit/audit-log.js';
import { decodePageToken, encodePageToken, queryFingerprint } from '../service/page-token.js';
import { Violations } from '../service/request-validation.js';
import type { JsonObject } from '../store/store.js';
import type { StoredApiKey, StoredApiKeys } from './stored-api-keys.js';

const TENANT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

function toApiKey(r: StoredApiKey, withHash = false): ApiKey {
  return {
    id: r.id,
    tenant: r.tenant,
    role: r.role,
    description: r.description ?? '',
    createTime: r.createdAt,
    expireTime: r.expiresAt,
    revokeTime: r.revokedAt,
    createdBy: r.createdBy,
    secretSha256: withHash ? r.secretHash : '',
  };
}

/** The one tenant an admin may manage, or undefined for an operator (admin of "default"). */
function managedTenant(call: CallContext): string | undefined {
  const actor = effectiveActor(call.principal);
  return actor.tenant === 'default' ? undefined : actor.tenant;
}

/** Another tenant's key is NOT_FOUND to a tenant admin, like every other resource. */
function requireManaged(call: CallContext, tenant: string, id: string): void {
  const own = managedTenant(call);
  if (own !== undefined && own !== tenant) throw errors.notFound('api_key', id);
}

export function adminServiceBinding({ keys, audit }: { keys: StoredApiKeys; audit: AuditLog }): ServiceBinding {
  return defineService(AdminServiceDefinition, {
    async createApiKey(req, call) {
      const v = new Violations();
      if (!TENANT_NAME.test(req.tenant)) v.add('tenant', 'must be 1-63 characters of a-z, 0-9, "_" and "-", starting with a letter or digit');
      if (!isRole(req.role) || req.role === 'service') v.add('role', 'must be admin, developer or user (services authenticate by certificate or service token)');
      v.text('description', req.description, 1024);
      v.requestId('request_id', req.requestId);
      if (req.expireTime && req.expireTime.getTime() <= Date.now()) v.add('expire_time', 'must be in the future');
      v.throwIfAny();
      const own = managedTenant(call);
      if (own !== undefined && own !== req.tenant) throw errors.permissionDenied('OTHER_TENANT', `an admin of tenant ${own} creates keys of tenant ${own} only`);
      const { token, record } = await keys.create({
        tenant: req.tenant,
        role: req.role as 'admin' | 'developer' | 'user',
        description: req.description || undefined,
        expiresAt: req.expireTime,
        createdBy: call.principal.subject,
        requestId: req.requestId || undefined,
      });
      if (token) {
        const details: JsonObject = { role: record.role, ...(record.expiresAt ? { expireTime: record.expiresAt.toISOString() } : {}) };
        await audit.record(call, { action: 'api_key.create', resource: `api_key/${record.id}`, tenant: record.tenant, details });
      }
      return { key: toApiKey(record), token: token ?? '' };
    },

    async listApiKeys(req, call) {
      const v = new Violations();
      const limit = v.pageSize('page_size', req.pageSize);
      v.id('tenant', req.tenant, 128, true);
      v.throwIfAny();
      const own = managedTenant(call);
      if (own !== undefined && req.tenant && req.tenant !== own) return { keys: [], nextPageToken: '' };
      if (own !== undefined) req = { ...req, tenant: own };
      const fp = queryFingerprint('api-keys', req.tenant, req.includeRevoked);
      const afterId = decodePageToken<string>(req.pageToken, fp, 'string');
      const res = await keys.list({ tenant: req.tenant || undefined, includeRevoked: req.includeRevoked, limit, afterId });
      return { keys: res.keys.map((k) => toApiKey(k)), nextPageToken: encodePageToken(fp, res.nextCursor) };
    },

    async revokeApiKey(req, call) {
      const v = new Violations();
      v.id('id', req.id, 64);
      v.requestId('request_id', req.requestId);
      v.throwIfAny();
      const before = await keys.get(req.id);
      if (!before) throw errors.notFound('api_key', req.id);
      requireManaged(call, before.tenant, req.id);
      const record = await keys.revoke(req.id);
      if (!before.revokedAt) await audit.record(call, { action: 'api_key.revoke', resource: `api_key/${record.id}`, tenant: record.tenant });
      return { key: toApiKey(record) };
    },

    async getApiKey(req) {
      const v = new Violations();
      v.id('id', req.id, 64);
      v.throwIfAny();
      const record = await keys.get(req.id);
      if (!record) throw errors.notFound('api_key', req.id);
      return { key: toApiKey(record, true) };
    },

    async listAuditEvents(req, call) {
      const own = managedTenant(call);
      if (own !== undefined && req.tenant && req.tenant !== own) return { events: [], nextPageToken: '' };
      if (own !== undefined) req = { ...req, tenant: own };
      const v = new Violations();
      const limit = v.pageSize('page_size', req.pageSize);
      v.id('tenant', req.tenant, 128, true);
      v.id('action', req.action, 128, true);
      v.id('actor_subject', req.actorSubject, 256, true);
      if (req.startTime && req.endTime && req.startTime >= req.endTime) v.add('start_time', 'must be before end_time');
      v.throwIfAny();
      const fp = queryFingerprint('audit', req.tenant, req.action, req.actorSubject, req.startTime?.toISOString(), req.endTime?.toISOString());
      const afterId = decodePageToken<string>(req.pageToken, fp, 'string');
      const res = await audit.list({
        tenant: req.tenant || undefined,
        action: req.action || undefined,
        actorSubject: req.actorSubject || undefined,
        start: req.startTime,
        end: req.endTime,
        limit,
        afterId,
      });
      return { events: res.events, nextPageToken: encodePageToken(fp, res.nextCursor) };
    },

    async recordAuditEvent(req, call) {
      const v = new Violations();
      v.id('action', req.action, 128);
      v.id('resource', req.resource, 512);
      v.id('peer', req.peer, 256, true);
      v.json('details', req.details, 16 * 1024);
      v.throwIfAny();
      const event = await audit.record(call, {
        action: req.action,
        resource: req.resource,
        tenant: effectiveTenant(call.principal) === '*' ? 'default' : effectiveTenant(call.principal),
        details: req.details,
        peer: req.peer,
      });
      return { event };
    },
  });
}
