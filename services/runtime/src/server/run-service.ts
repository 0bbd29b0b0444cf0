import { authFromEnv, meshKeyStore, serverTlsFromEnv } from '../auth/auth-config.js';
import type { ApiKeyStore } from '../auth/api-keys.js';
import { loadConfigOrExit } from '../config/env-config.js';
import { createLogger } from '../logging/logger.js';
import { initTelemetry } from '../telemetry/sdk.js';
import { startServer } from './server.js';
import type { RunningServer, ServerOptions } from './server.js';

export interface RunServiceOptions extends ServerOptions {
  /** After the server drained: close stores, clients, pools. */
  onStop?: () => Promise<void> | void;
  /** Where API keys are verified (memory passes its own store); default: a keys file, else memory over the mesh. */
  apiKeys?: ApiKeyStore;
  /** How long a verified key is trusted before it is looked up again (memory, which owns the keys, uses 0). */
  apiKeyCacheMs?: number;
}

async function loadConfigOrExitAsync<T>(service: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    return loadConfigOrExit(service, () => {
      throw error;
    });
  }
}

/**
 * A service process's main: telemetry, the server, and a drain on
 * SIGTERM/SIGINT (idempotent: npm delivers SIGTERM twice) before exit 0.
 * Logs `{"msg":"listening","address":…}` once serving; spawnService waits for it.
 */
export async function runService(options: RunServiceOptions): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(options.name);
  const telemetry = initTelemetry(options.name);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  process.on('uncaughtException', (error) => {
    // State is unknown after an uncaught exception: crash, and let the supervisor restart us.
    logger.fatal({ err: error }, 'uncaught exception; exiting');
    process.exit(70);
  });

  const auth = options.auth ?? loadConfigOrExit(options.name, () => authFromEnv(process.env, { apiKeys: options.apiKeys ?? meshKeyStore(), keyCacheMs: options.apiKeyCacheMs }));
  const tls = options.tls ?? loadConfigOrExit(options.name, () => serverTlsFromEnv());
  if (auth.mode === 'local') {
    logger.warn('LOCAL DEVELOPER MODE: no authentication; every caller is admin of tenant "default". Set ELIXIRCHAIN_AUTH=required for anything but a laptop.');
  }
  const server = await loadConfigOrExitAsync(options.name, () => startServer({ ...options, auth, tls, logger }));
  logger.info({ address: server.address, tracing: telemetry.enabled }, 'listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    await server.drain();
    try {
      await options.onStop?.();
    } catch (error) {
      logger.error({ err: error }, 'stop hook failed');
    }
    await telemetry.shutdown();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return server;
}
