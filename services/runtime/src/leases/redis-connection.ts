import { createClient, type RedisClientType } from 'redis';
import { rootLogger, type Logger } from '../logging/logger.js';

export type RedisConnection = RedisClientType<any, any, any, any, any>;

/**
 * Connects to Redis (`ELIXIRCHAIN_REDIS_URL`). node-redis reconnects on its own
 * with backoff; errors are logged here because an 'error' event without a
 * listener would crash the process.
 */
export async function connectRedis(url: string, log: Logger = rootLogger.child({ component: 'redis' })): Promise<RedisConnection> {
  const client = createClient({
    url,
    socket: { connectTimeout: 5000, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2000) },
  }) as RedisConnection;
  let lastLogged = 0;
  client.on('error', (err: Error) => {
    if (Date.now() - lastLogged > 5000) {
      lastLogged = Date.now();
      log.warn({ err: { message: err.message } }, 'redis connection error');
    }
  });
  await client.connect();
  return client;
}

/** ELIXIRCHAIN_REDIS_URL, or undefined when Redis is not configured. */
export function redisUrlFromEnv(env: Record<string, string | undefined> = process.env): string | undefined {
  const value = env.ELIXIRCHAIN_REDIS_URL?.trim();
  return value ? value : undefined;
}
