import { defineService, effectiveActor, effectiveTenant, errors, SHARED_TENANT, toRpcStatus, type AuditReporter, type CallContext, type ServiceBinding } from '@elixirchain/runtime';
import { ToolSandboxServiceDefinition, type Grant, type InvokeToolResponse, type ToolPermissions } from '@elixirchain/proto/sandbox';
import type { DeepPartial } from '@elixirchain/runtime';
import { validToolName } from '../manifest/tool-manifest.js';
import { normalizePermissions } from '../permissions/permission-set.js';
import { decodePageToken, encodePageToken, type ToolCatalog, type ToolVersionRecord } from '../registry/tool-catalog.js';
import type { StoredGrant } from '../registry/tool-store.js';
import { RequestLog } from './request-log.js';
import type { SandboxEvent, ToolSandbox } from '../sandbox/tool-sandbox.js';

const toDuration = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) });
const fromDuration = (d: { seconds: number; nanos: number } | undefined) => (d ? d.seconds * 1000 + d.nanos / 1e6 : 0);

function toGrant(grant: StoredGrant): Grant {
  return { toolName: grant.toolName, permissions: grant.permissions, updateTime: grant.updateTime };
}

function permissionsOf(p: ToolPermissions | undefined) {
  return normalizePermissions({ networkHosts: p?.networkHosts ?? [], secrets: p?.secrets ?? [] });
}

function toResponse(event: SandboxEvent): DeepPartial<InvokeToolResponse> {
  const sequence = event.sequence;
  switch (event.type) {
    case 'started':
      return { sequence, event: { $case: 'started', started: { callId: event.callId, toolVersion: event.toolVersion, attempt: event.attempt } } };
    case 'progress':
      return { sequence, event: { $case: 'progress', progress: { fraction: event.fraction, message: event.message } } };
    case 'log':
      return { sequence, event: { $case: 'log', log: { level: event.level, message: event.message } } };
    case 'partial':
      return { sequence, event: { $case: 'partial', partial: { data: event.data } } };
    case 'result':
      return {
        sequence,
        event: { $case: 'result', result: { output: event.output, toolVersion: event.toolVersion, attempts: event.attempts, duration: toDuration(event.durationMs) } },
      };
    case 'error':
      return { sequence, event: { $case: 'error', error: { status: toRpcStatus(event.error), attempt: event.attempt, willRetry: event.willRetry } } };
  }
}

/** The tenant a call's tools belong to: the caller's (a service's forwarded caller); "default" for a service alone. */
function tenantOf(call: CallContext): string {
  const tenant = effectiveTenant(call.principal);
  return tenant === '*' ? 'default' : tenant;
}

/** Shared tools are the operator's: only an admin of tenant "default" publishes, deletes or grants them. */
function targetTenant(call: CallContext, shared: boolean): string {
  if (!shared) return tenantOf(call);
  const actor = effectiveActor(call.principal);
  if (actor.role !== 'admin' || actor.tenant !== 'default') {
    throw errors.permissionDenied('SHARED_TOOLS_OPERATOR_ONLY', 'only an admin of tenant "default" (an operator) may publish, delete or grant shared tools');
  }
  return SHARED_TENANT;
}

export interface ToolSandboxServiceOptions {
  /** Records registrations, deletions and grants in memory's audit log. */
  audit?: AuditReporter;
}

/** The gRPC face of a ToolSandbox. Every tenant sees its own tools plus the shared ones; another tenant's are NOT_FOUND. */
export function toolSandboxService(sandbox: ToolSandbox, options: ToolSandboxServiceOptions = {}): ServiceBinding {
  const requests = new RequestLog();
  // Request ids are the caller's: one tenant's retry must never answer with another's result.
  const once = <T>(method: string, tenant: string, requestId: string, work: () => Promise<T>) => requests.run(method, requestId && `${tenant}\u0000${requestId}`, work);
  const audit = (action: string, resource: string, details: Record<string, unknown>) => options.audit?.record(action, resource, details);

  /** A tool visible to the caller: its tenant's own, else a shared one of that name. */
  const visible = async (call: CallContext, name: string, version: string): Promise<{ record: ToolVersionRecord; catalog: ToolCatalog } | undefined> => {
    const own = await sandbox.catalogFor(tenantOf(call));
    if (own.find(name, '')) {
      const record = own.find(name, version);
      return record && { record, catalog: own };
    }
    const record = sandbox.sharedCatalog.find(name, version);
    return record && { record, catalog: sandbox.sharedCatalog };
  };

  return defineService(ToolSandboxServiceDefinition, {
    registerTool: (req, call) => {
      const tenant = targetTenant(call, req.shared);
      return once('register', tenant, req.requestId, async () => {
        const tool = await sandbox.register(req.manifest, req.bundle, { grantPermissions: req.grantPermissions, tenant });
        await audit('tool.register', `tool/${tool.manifest?.name}@${tool.manifest?.version}`, { shared: req.shared, sha256: tool.manifest?.bundleSha256 ?? '', grantPermissions: req.grantPermissions });
        return { tool };
      });
    },

    getTool: async (req, call) => {
      if (!validToolName(req.name)) throw errors.invalidArgument('name', 'is not a valid tool name');
      const found = await visible(call, req.name, req.version);
      if (!found) throw errors.notFound('tool', req.version ? `${req.name}@${req.version}` : req.name);
      return { tool: found.catalog.toTool(found.record), bundle: req.includeBundle ? Buffer.from(found.record.bundle) : Buffer.alloc(0) };
    },

    listTools: async (req, call) => {
      if (req.name && !validToolName(req.name)) throw errors.invalidArgument('name', 'is not a valid tool name');
      const own = await sandbox.catalogFor(tenantOf(call));
      if (req.name) {
        const catalog = own.find(req.name, '') || !sandbox.sharedCatalog.find(req.name, '') ? own : sandbox.sharedCatalog;
        const page = catalog.list(req);
        return { tools: page.items.map((r) => catalog.toTool(r)), nextPageToken: page.nextPageToken };
      }
      // The tenant's tools, then the shared ones it does not shadow, as one listing.
      const all = [...collect(own), ...collect(sandbox.sharedCatalog).filter((t) => !own.find(t.record.name, ''))].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const chosen = req.allVersions ? all : all.filter((t, i) => i === 0 || all[i - 1]!.record.name !== t.record.name);
      if (req.pageSize < 0) throw errors.invalidArgument('page_size', 'must not be negative');
      const size = Math.min(req.pageSize || 50, 500);
      const after = decodePageToken(req.pageToken);
      const start = after === undefined ? 0 : chosen.findIndex((t) => t.key > after);
      const slice = start < 0 ? [] : chosen.slice(start, start + size);
      const more = start >= 0 && start + size < chosen.length;
      return { tools: slice.map((t) => t.catalog.toTool(t.record)), nextPageToken: more ? encodePageToken(slice[slice.length - 1]!.key) : '' };
    },

    deleteTool: (req, call) => {
      const tenant = targetTenant(call, req.shared);
      return once('delete', tenant, req.requestId, async () => {
        const deletedVersions = await (await sandbox.catalogFor(tenant)).delete(req.name, req.version);
        await audit('tool.delete', `tool/${req.name}${req.version ? `@${req.version}` : ''}`, { shared: req.shared, deletedVersions });
        return { deletedVersions };
      });
    },

    invokeTool: async (req, stream, call) => {
      const timeoutMs = fromDuration(req.timeout);
      if (timeoutMs < 0) throw errors.invalidArgument('timeout', 'must not be negative');
      const events = sandbox.invoke(
        {
          name: req.name,
          version: req.version,
          input: req.input ?? {},
          callId: req.callId,
          grants: req.grants ? permissionsOf(req.grants) : undefined,
          timeoutMs: timeoutMs > 0 ? timeoutMs : undefined,
          tenant: tenantOf(call),
        },
        { signal: call.signal, deadline: call.deadline?.getTime() },
      );
      for await (const event of events) {
        // Waits for the client to take it: a slow reader slows the tool's stream, not our memory.
        await stream.write(toResponse(event));
        if (event.type === 'error' && !event.willRetry) throw event.error;
        if (event.type === 'result') return;
      }
    },

    grantTool: (req, call) => {
      const tenant = targetTenant(call, req.shared);
      return once('grant', tenant, req.requestId, async () => {
        const catalog = await sandbox.catalogFor(tenant);
        const { grant, activated } = await sandbox.grant(req.toolName, permissionsOf(req.permissions), tenant);
        await audit('grant.create', `tool/${req.toolName}`, { shared: req.shared, networkHosts: grant.permissions.networkHosts, secretNames: grant.permissions.secrets });
        return { grant: toGrant(grant), activated: activated.map((r) => catalog.toTool(r)) };
      });
    },

    revokeGrant: (req, call) => {
      const tenant = targetTenant(call, req.shared);
      return once('revoke', tenant, req.requestId, async () => {
        const grant = await (await sandbox.catalogFor(tenant)).revoke(req.toolName, req.permissions ? permissionsOf(req.permissions) : undefined);
        await audit('grant.revoke', `tool/${req.toolName}`, { shared: req.shared, remainingHosts: grant.permissions.networkHosts, remainingSecretNames: grant.permissions.secrets });
        return { grant: toGrant(grant) };
      });
    },

    listGrants: async (req, call) => {
      const page = (await sandbox.catalogFor(tenantOf(call))).listGrants(req);
      return { grants: page.items.map(toGrant), nextPageToken: page.nextPageToken };
    },
  });
}

/** Every version of every tool in a catalog, keyed for one merged listing (name, then newest version first). */
function collect(catalog: ToolCatalog): Array<{ key: string; record: ToolVersionRecord; catalog: ToolCatalog }> {
  const out: Array<{ key: string; record: ToolVersionRecord; catalog: ToolCatalog }> = [];
  let pageToken = '';
  let index = 0;
  do {
    const page = catalog.list({ pageSize: 500, pageToken, name: '', allVersions: true });
    for (const record of page.items) {
      const previous = out[out.length - 1];
      index = previous && previous.record.name === record.name ? index + 1 : 0;
      out.push({ key: `${record.name}\u0000${String(index).padStart(6, '0')}\u0000${record.version}`, record, catalog });
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return out;
}

