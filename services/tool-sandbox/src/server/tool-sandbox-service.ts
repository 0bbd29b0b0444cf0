import { defineService, errors, toRpcStatus, type ServiceBinding } from '@elixirchain/runtime';
import { ToolSandboxServiceDefinition, type Grant, type InvokeToolResponse, type ToolPermissions } from '@elixirchain/proto/sandbox';
import type { DeepPartial } from '@elixirchain/runtime';
import { validToolName } from '../manifest/tool-manifest.js';
import { normalizePermissions } from '../permissions/permission-set.js';
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

/** The gRPC face of a ToolSandbox. */
export function toolSandboxService(sandbox: ToolSandbox): ServiceBinding {
  const requests = new RequestLog();
  return defineService(ToolSandboxServiceDefinition, {
    registerTool: (req) =>
      requests.run('register', req.requestId, async () => ({ tool: await sandbox.register(req.manifest, req.bundle, { grantPermissions: req.grantPermissions }) })),

    getTool: async (req) => {
      if (!validToolName(req.name)) throw errors.invalidArgument('name', 'is not a valid tool name');
      const record = sandbox.catalog.find(req.name, req.version);
      if (!record) throw errors.notFound('tool', req.version ? `${req.name}@${req.version}` : req.name);
      return { tool: sandbox.catalog.toTool(record), bundle: req.includeBundle ? Buffer.from(record.bundle) : Buffer.alloc(0) };
    },

    listTools: async (req) => {
      if (req.name && !validToolName(req.name)) throw errors.invalidArgument('name', 'is not a valid tool name');
      const page = sandbox.catalog.list(req);
      return { tools: page.items.map((r) => sandbox.catalog.toTool(r)), nextPageToken: page.nextPageToken };
    },

    deleteTool: (req) => requests.run('delete', req.requestId, async () => ({ deletedVersions: await sandbox.catalog.delete(req.name, req.version) })),

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

    grantTool: (req) =>
      requests.run('grant', req.requestId, async () => {
        const { grant, activated } = await sandbox.grant(req.toolName, permissionsOf(req.permissions));
        return { grant: toGrant(grant), activated: activated.map((r) => sandbox.catalog.toTool(r)) };
      }),

    revokeGrant: (req) =>
      requests.run('revoke', req.requestId, async () => ({
        grant: toGrant(await sandbox.catalog.revoke(req.toolName, req.permissions ? permissionsOf(req.permissions) : undefined)),
      })),

    listGrants: async (req) => {
      const page = sandbox.catalog.listGrants(req);
      return { grants: page.items.map(toGrant), nextPageToken: page.nextPageToken };
    },
  });
}
