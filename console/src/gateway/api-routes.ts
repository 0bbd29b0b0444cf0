import { errors } from '@elixirchain/runtime';
import { checkMeshHealth } from './mesh-health.js';
import type { MeshConnections, MeshServiceKey } from './mesh-connections.js';
import type { MeshStatusReader } from './mesh-status.js';
import type { RequestContext } from './request-context.js';
import { pipeServerSentEvents, type SseEvent } from './server-sent-events.js';

export type RouteHandler = (ctx: RequestContext) => Promise<void>;

export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** e.g. /api/agents/:id */
  path: string;
  handle: RouteHandler;
}

interface MethodDescriptor {
  requestType: { fromJSON(json: unknown): unknown };
  responseType: { toJSON(message: unknown): unknown };
}

type RequestBuilder = (ctx: RequestContext) => Promise<Record<string, unknown>> | Record<string, unknown>;

/** What the console knows besides the services' APIs. */
export interface ConsoleSettings {
  /** Reads NodeStatusService of every replica (the mesh health page). */
  status: MeshStatusReader;
  /** Jaeger's UI (e.g. http://localhost:16686): turns and runs link to <jaegerUrl>/trace/<trace id>. */
  jaegerUrl?: string;
}

/** How often the mesh status stream reads the replicas, by default and at most. */
export const STATUS_INTERVAL_MS = { default: 2000, min: 500, max: 60_000 };

/**
 * The browser's API: each route is one RPC of one service. Requests are built
 * from the path, query and JSON body and parsed with the generated fromJSON;
 * responses are the proto3 JSON of the generated toJSON. Nothing is decided here.
 */
export function apiRoutes(mesh: MeshConnections, settings: ConsoleSettings): Route[] {
  const descriptor = (service: MeshServiceKey, method: string) =>
    (mesh.definitions[service].methods as unknown as Record<string, MethodDescriptor>)[method]!;

  /** A unary RPC answered as JSON. */
  const unary = (service: MeshServiceKey, method: string, build: RequestBuilder): RouteHandler => async (ctx) => {
    const { requestType, responseType } = descriptor(service, method);
    const request = requestType.fromJSON(await build(ctx));
    const response = await (mesh.clients[service][method]!(request, ctx.callOptions()) as Promise<unknown>);
    sendJson(ctx, 200, responseType.toJSON(response));
  };

  /** A server-streaming RPC answered as Server-Sent Events; the SSE id is the event's sequence. */
  const streamed = (service: MeshServiceKey, method: string, build: RequestBuilder): RouteHandler => async (ctx) => {
    const { requestType, responseType } = descriptor(service, method);
    // Build (and so validate the body) before the 200 of the event stream is sent.
    const request = requestType.fromJSON(await build(ctx));
    await pipeServerSentEvents(ctx.res, ctx.abort, async function* (signal) {
      const stream = mesh.clients[service][method]!(request, { ...ctx.callOptions(), signal }) as AsyncIterable<unknown>;
      for await (const message of stream) {
        const json = responseType.toJSON(message) as Record<string, unknown>;
        // Thread and run events come wrapped in { event }; tool invocations are the event themselves.
        const data = (json.event ?? json) as Record<string, unknown>;
        yield { id: typeof data.sequence === 'number' ? data.sequence : undefined, data } satisfies SseEvent;
      }
    });
  };

  /** after_sequence from the query, or the Last-Event-ID an EventSource sends when it reconnects, whichever is later. */
  const resumeAfter = (ctx: RequestContext): number => {
    const fromQuery = Number(ctx.url.searchParams.get('afterSequence') ?? 0) || 0;
    const lastEventId = Number(ctx.req.headers['last-event-id'] ?? 0) || 0;
    return Math.max(fromQuery, lastEventId);
  };

  const p = (ctx: RequestContext, name: string) => ctx.params[name]!;

  return [
    { method: 'GET', path: '/api/health', handle: async (ctx) => sendJson(ctx, 200, { services: await checkMeshHealth(mesh.addresses) }) },
    { method: 'GET', path: '/api/config', handle: async (ctx) => sendJson(ctx, 200, { jaegerUrl: settings.jaegerUrl ?? null }) },
    // NodeStatusService of every replica: once, or as a live stream (one snapshot per interval, while the browser listens).
    { method: 'GET', path: '/api/mesh/status', handle: async (ctx) => sendJson(ctx, 200, { replicas: await settings.status.read(ctx.callOptions()) }) },
    {
      method: 'GET',
      path: '/api/mesh/status/events',
      handle: async (ctx) => {
        const asked = Number(ctx.url.searchParams.get('intervalMs') ?? STATUS_INTERVAL_MS.default);
        if (!Number.isInteger(asked) || asked < STATUS_INTERVAL_MS.min || asked > STATUS_INTERVAL_MS.max) {
          throw errors.invalidArgument('intervalMs', `must be a whole number of milliseconds from ${STATUS_INTERVAL_MS.min} to ${STATUS_INTERVAL_MS.max}`);
        }
        await pipeServerSentEvents(ctx.res, ctx.abort, async function* (signal) {
          for (let n = 1; !signal.aborted; n++) {
            yield { id: n, data: { time: new Date().toISOString(), replicas: await settings.status.read(ctx.callOptions()) } } satisfies SseEvent;
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, asked);
              signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
            });
          }
        });
      },
    },

    // Agents
    { method: 'GET', path: '/api/agents', handle: unary('agentHost', 'listAgents', (ctx) => ctx.query()) },
    { method: 'POST', path: '/api/agents', handle: unary('agentHost', 'createAgent', (ctx) => ctx.body()) },
    { method: 'GET', path: '/api/agents/:id', handle: unary('agentHost', 'getAgent', (ctx) => ({ ...ctx.query(), id: p(ctx, 'id') })) },
    {
      method: 'PATCH',
      path: '/api/agents/:id',
      handle: unary('agentHost', 'updateAgent', async (ctx) => {
        const body = await ctx.body();
        return { ...body, agent: { ...(body.agent as object | undefined), id: p(ctx, 'id') } };
      }),
    },
    { method: 'DELETE', path: '/api/agents/:id', handle: unary('agentHost', 'deleteAgent', (ctx) => ({ id: p(ctx, 'id') })) },
    { method: 'POST', path: '/api/agents/:id/messages', handle: streamed('agentHost', 'sendMessage', async (ctx) => ({ ...(await ctx.body()), agentId: p(ctx, 'id') })) },

    // Threads
    { method: 'GET', path: '/api/threads', handle: unary('agentHost', 'listThreads', (ctx) => ctx.query()) },
    { method: 'GET', path: '/api/threads/:id', handle: unary('agentHost', 'getThread', (ctx) => ({ threadId: p(ctx, 'id') })) },
    { method: 'GET', path: '/api/threads/:id/messages', handle: unary('agentHost', 'listMessages', (ctx) => ({ ...ctx.query(), threadId: p(ctx, 'id') })) },
    {
      method: 'GET',
      path: '/api/threads/:id/events',
      handle: streamed('agentHost', 'watchThread', (ctx) => ({ ...ctx.query(), threadId: p(ctx, 'id'), afterSequence: resumeAfter(ctx) })),
    },
    {
      method: 'POST',
      path: '/api/threads/:id/approvals/:approvalId',
      handle: unary('agentHost', 'resolveApproval', async (ctx) => ({ ...(await ctx.body()), threadId: p(ctx, 'id'), approvalId: p(ctx, 'approvalId') })),
    },
    { method: 'POST', path: '/api/threads/:id/cancel', handle: unary('agentHost', 'cancelTurn', async (ctx) => ({ ...(await ctx.body()), threadId: p(ctx, 'id') })) },

    // Tools
    { method: 'GET', path: '/api/tools', handle: unary('toolSandbox', 'listTools', (ctx) => ctx.query()) },
    { method: 'GET', path: '/api/tools/:name', handle: unary('toolSandbox', 'getTool', (ctx) => ({ ...ctx.query(), name: p(ctx, 'name'), includeBundle: false })) },
    { method: 'POST', path: '/api/tools/:name/invoke', handle: streamed('toolSandbox', 'invokeTool', async (ctx) => ({ ...(await ctx.body()), name: p(ctx, 'name') })) },
    { method: 'POST', path: '/api/tools/:name/grant', handle: unary('toolSandbox', 'grantTool', async (ctx) => ({ ...(await ctx.body()), toolName: p(ctx, 'name') })) },
    { method: 'POST', path: '/api/tools/:name/revoke', handle: unary('toolSandbox', 'revokeGrant', async (ctx) => ({ ...(await ctx.body()), toolName: p(ctx, 'name') })) },
    { method: 'GET', path: '/api/grants', handle: unary('toolSandbox', 'listGrants', (ctx) => ctx.query()) },

    // Chains and runs
    { method: 'GET', path: '/api/chains', handle: unary('chainExecutor', 'listChains', (ctx) => ctx.query()) },
    { method: 'POST', path: '/api/chains', handle: unary('chainExecutor', 'createChain', (ctx) => ctx.body()) },
    { method: 'GET', path: '/api/chains/:id', handle: unary('chainExecutor', 'getChain', (ctx) => ({ ...ctx.query(), id: p(ctx, 'id') })) },
    {
      method: 'PATCH',
      path: '/api/chains/:id',
      handle: unary('chainExecutor', 'updateChain', async (ctx) => {
        const body = await ctx.body();
        return { ...body, chain: { ...(body.chain as object | undefined), id: p(ctx, 'id') } };
      }),
    },
    { method: 'POST', path: '/api/chains/:id/start', handle: unary('chainExecutor', 'startRun', async (ctx) => ({ ...(await ctx.body()), chainId: p(ctx, 'id') })) },
    { method: 'POST', path: '/api/chains/:id/runs', handle: streamed('chainExecutor', 'runChain', async (ctx) => ({ ...(await ctx.body()), chainId: p(ctx, 'id') })) },
    { method: 'GET', path: '/api/runs', handle: unary('chainExecutor', 'listRuns', (ctx) => ctx.query()) },
    { method: 'GET', path: '/api/runs/:id', handle: unary('chainExecutor', 'getRun', (ctx) => ({ runId: p(ctx, 'id') })) },
    { method: 'GET', path: '/api/runs/:id/events', handle: streamed('chainExecutor', 'watchRun', (ctx) => ({ runId: p(ctx, 'id'), afterSequence: resumeAfter(ctx) })) },
    { method: 'POST', path: '/api/runs/:id/cancel', handle: unary('chainExecutor', 'cancelRun', async (ctx) => ({ ...(await ctx.body()), runId: p(ctx, 'id') })) },
    { method: 'POST', path: '/api/runs/:id/resume', handle: unary('chainExecutor', 'resumeRun', async (ctx) => ({ ...(await ctx.body()), runId: p(ctx, 'id') })) },

    // Memory
    { method: 'GET', path: '/api/memory/namespaces', handle: unary('memory', 'listNamespaces', (ctx) => ctx.query()) },
    { method: 'GET', path: '/api/memory/memories', handle: unary('memory', 'listMemories', (ctx) => ctx.query()) },
    { method: 'POST', path: '/api/memory/search', handle: unary('memory', 'searchMemories', (ctx) => ctx.body()) },
  ];
}

export function sendJson(ctx: RequestContext, status: number, body: unknown): void {
  if (ctx.res.headersSent) return;
  const text = JSON.stringify(body);
  ctx.res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  ctx.res.end(text);
}

/** Compiles '/api/agents/:id' into a matcher returning the decoded params. */
export function compilePath(path: string): (pathname: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}/?$`,
  );
  return (pathname) => {
    const match = pattern.exec(pathname);
    if (!match) return undefined;
    const params: Record<string, string> = {};
    try {
      names.forEach((name, i) => (params[name] = decodeURIComponent(match[i + 1]!)));
    } catch {
      throw errors.invalidArgument('path', 'is not a valid URL path');
    }
    return params;
  };
}
