import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { descriptorSetPath } from '@elixirchain/proto/descriptor';
import { errors } from '../errors/elixir-error.js';
import { createLogger } from '../logging/logger.js';
import type { Logger } from '../logging/logger.js';
import type { CallTracker, ServiceBinding } from './define-service.js';
import { assertSafeBind } from '../auth/auth-config.js';
import type { ServerAuth } from '../auth/auth-config.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CA that client certificates must chain to; with requireClientCert this is mTLS. */
  caFile?: string;
  requireClientCert?: boolean;
}

export interface ServerOptions {
  /** Service name for logs and telemetry, e.g. "memory". */
  name: string;
  /** host:port; port 0 picks a free one (read it back from RunningServer.address). */
  address: string;
  services: ServiceBinding[];
  /** Largest message received or sent; default 16 MiB. Handlers still check their own limits. */
  maxMessageBytes?: number;
  /** How long drain waits for calls in flight before forcing; default 10 s. */
  drainGraceMs?: number;
  tls?: TlsFiles;
  /** Default: local developer mode (no authentication, loopback addresses only). */
  auth?: ServerAuth;
  logger?: Logger;
}

export type ServerState = 'serving' | 'draining' | 'stopped';

export interface RunningServer {
  /** host:port actually bound. */
  readonly address: string;
  readonly port: number;
  readonly state: ServerState;
  readonly logger: Logger;
  /** Runs when drain starts, after health turns NOT_SERVING: checkpoint in-flight work here. */
  onDrain(hook: () => Promise<void> | void): void;
  /**
   * Graceful stop: health NOT_SERVING → stop accepting → drain hooks → open
   * streams end with UNAVAILABLE → calls in flight get up to the grace period →
   * force. Idempotent: every caller gets the same promise.
   */
  drain(graceMs?: number): Promise<void>;
  /** Stops at once, failing calls in flight. */
  forceStop(): void;
}

let reflectionPackage: PackageDefinition | undefined;
function reflectionDefinitions(): PackageDefinition {
  reflectionPackage ??= loadFileDescriptorSetFromBuffer(readFileSync(descriptorSetPath));
  return reflectionPackage;
}

function credentialsFor(tls: TlsFiles | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    tls.caFile ? readFileSync(tls.caFile) : null,
    [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }],
    tls.requireClientCert ?? false,
  );
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(options.name);
  const auth = options.auth ?? { mode: 'local' as const };
  assertSafeBind(options.address, auth);
  const maxBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  });

  let idleWaiters: Array<() => void> = [];
  const tracker: CallTracker = {
    logger,
    inflight: 0,
    streams: new Set(),
    draining: false,
    authenticator: auth.authenticator,
    onIdle() {
      if (tracker.inflight === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    },
  };

  const serviceNames = options.services.map((s) => s.definition.fullName);
  const health = new HealthImplementation(Object.fromEntries([['', 'SERVING'], ...serviceNames.map((n) => [n, 'SERVING'])]));
  health.addToServer(server);
  new ReflectionService(reflectionDefinitions(), { services: serviceNames }).addToServer(server);
  for (const binding of options.services) {
    const { grpcDefinition, implementation } = binding.bind(tracker);
    server.addService(grpcDefinition, implementation);
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, credentialsFor(options.tls), (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
  });
  const host = options.address.slice(0, options.address.lastIndexOf(':')) || '127.0.0.1';
  const address = `${host}:${port}`;
  widenReceiveWindows(server);

  let state: ServerState = 'serving';
  const drainHooks: Array<() => Promise<void> | void> = [];
  let draining: Promise<void> | undefined;

  const setHealth = (status: 'SERVING' | 'NOT_SERVING') => {
    health.setStatus('', status);
    for (const name of serviceNames) health.setStatus(name, status);
  };

  const drain = (graceMs = options.drainGraceMs ?? 10_000): Promise<void> => {
    draining ??= (async () => {
      state = 'draining';
      tracker.draining = true;
      setHealth('NOT_SERVING');
      const shutdown = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      for (const hook of drainHooks) {
        try {
          await hook();
        } catch (error) {
          logger.error({ err: error }, 'drain hook failed');
        }
      }
      for (const stream of [...tracker.streams]) {
        stream.end(errors.unavailable('DRAINING', 'the server is shutting down; re-attach with Watch… after it restarts'));
      }
      const idle = tracker.inflight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([Promise.all([idle, shutdown]).then(() => 'done' as const), grace]);
      if (timer) clearTimeout(timer);
      if (outcome === 'timeout') {
        logger.warn({ inflight: tracker.inflight }, 'drain grace period over; forcing shutdown');
        server.forceShutdown();
      }
      state = 'stopped';
    })();
    return draining;
  };

  return {
    address,
    port,
    logger,
    get state() {
      return state;
    },
    onDrain(hook) {
      drainHooks.push(hook);
    },
    drain,
    forceStop() {
      state = 'stopped';
      tracker.draining = true;
      server.forceShutdown();
    },
  };
}

/** HTTP/2 receive window of every connection and stream a server accepts. */
const RECEIVE_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * Opens the HTTP/2 receive windows of the server's connections beyond the
 * protocol's 64 KiB default. With the default a client with two ~40 KB
 * requests in flight (group-committed checkpoint batches) stops mid-message
 * until it reads the server's WINDOW_UPDATE, which a busy client does late:
 * memory sat idle for ~7 ms per batch waiting for the rest of a request.
 * grpc-js has no server option for it, so it is set on each session as it
 * opens (its http2 servers are not public: if they move, this does nothing).
 */
function widenReceiveWindows(server: grpc.Server): void {
  const http2Servers = (server as unknown as { http2Servers?: Map<import('node:http2').Http2Server, unknown> }).http2Servers;
  if (!(http2Servers instanceof Map)) return;
  for (const http2Server of http2Servers.keys()) {
    http2Server.on('session', (session: import('node:http2').ServerHttp2Session) => {
      try {
        session.setLocalWindowSize(RECEIVE_WINDOW_BYTES);
        session.settings({ initialWindowSize: RECEIVE_WINDOW_BYTES });
      } catch {
        // a session closing as it opens: nothing to widen
      }
    });
  }
}
