import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors, GrpcCode } from '@elixirchain/runtime';
import { apiRoutes, compilePath, sendJson } from './api-routes.js';
import { errorBody } from './http-error.js';
import { MeshConnections, type MeshAddressBook } from './mesh-connections.js';
import { MeshStatusReader, type ReplicaAddressBook } from './mesh-status.js';
import { RequestContext } from './request-context.js';
import { serveStatic } from './static-files.js';

export const DEFAULT_UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../ui/dist');

export interface ConsoleGatewayOptions {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  services: MeshAddressBook;
  /** The UI's production build (default console/ui/dist). */
  uiDir?: string;
  /** Environment for the bind check (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Every replica of a service, when they are not all behind its address's DNS name (mesh health page). */
  replicas?: ReplicaAddressBook;
  /** Jaeger's UI base URL: when set, turns and runs link to their trace. */
  jaegerUrl?: string;
}

export interface ConsoleGateway {
  /** host:port actually bound. */
  address: string;
  url: string;
  stop(): Promise<void>;
}

/** The console's HTTP server: /api/* goes to the mesh over gRPC, everything else is the UI. */
export async function startConsoleGateway(options: ConsoleGatewayOptions): Promise<ConsoleGateway> {
  const { host, port } = splitAddress(options.address);
  assertSafeConsoleBind(host, options.address, options.env ?? process.env);
  const mesh = new MeshConnections(options.services);
  const status = new MeshStatusReader(options.services, options.replicas);
  const uiDir = path.resolve(options.uiDir ?? DEFAULT_UI_DIR);
  const routes = apiRoutes(mesh, { status, jaegerUrl: options.jaegerUrl }).map((route) => ({ ...route, match: compilePath(route.path) }));

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://console.local');
    if (!url.pathname.startsWith('/api/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      serveStatic(uiDir, req, res, url.pathname);
      return;
    }
    void (async () => {
      let ctx = new RequestContext(req, res, url, {});
      try {
        let pathMatched = false;
        for (const route of routes) {
          const params = route.match(url.pathname);
          if (!params) continue;
          pathMatched = true;
          if (route.method !== req.method) continue;
          ctx = new RequestContext(req, res, url, params);
          await route.handle(ctx);
          return;
        }
        if (pathMatched) throw errors.failedPrecondition('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}`);
        throw errors.notFound('route', url.pathname);
      } catch (error) {
        const { status, body } = errorBody(error);
        const code = body.error.code === GrpcCode.FAILED_PRECONDITION && body.error.reason === 'METHOD_NOT_ALLOWED' ? 405 : status;
        sendJson(ctx, code, body);
      }
    })();
  });
  // SSE streams live long; the browser closing them is the end.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as { address: string; port: number };
  const address = `${host}:${bound.port}`;
  let stopping: Promise<void> | undefined;
  return {
    address,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound.port}`,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open event streams would hold close() forever.
        server.closeAllConnections();
      }).finally(() => {
        mesh.close();
        status.close();
      });
      return stopping;
    },
  };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

/**
 * In local developer mode the services trust every caller as admin, and the
 * console is such a caller for whoever reaches it: so it listens on loopback
 * only, as the services do, unless the mesh authenticates (ELIXIRCHAIN_AUTH=required,
 * where each browser presents its own key) or the operator opts out by name.
 */
export function assertSafeConsoleBind(host: string, address: string, env: NodeJS.ProcessEnv): void {
  if ((env.ELIXIRCHAIN_AUTH ?? 'local').trim() === 'required') return;
  if (/^(1|true|yes)$/i.test(env.ELIXIRCHAIN_ALLOW_UNAUTHENTICATED_BIND ?? '')) return;
  if (!LOOPBACK.test(host)) {
    throw new Error(`refusing to serve the console on ${address} without authentication; bind 127.0.0.1, or run the mesh with ELIXIRCHAIN_AUTH=required`);
  }
}

export function splitAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address.trim());
  if (!match) throw new Error(`console address "${address}" is not host:port`);
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`console address "${address}": port out of range`);
  return { host: match[1] ?? match[2]!, port };
}
