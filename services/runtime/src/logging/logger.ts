import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

// Field names whose values never reach a log line, wherever they sit.
const SECRET_FIELDS = ['authorization', 'apiKey', 'api_key', 'password', 'secret', 'secrets', 'token', 'accessToken', 'bearer', 'cookie'];
const redactPaths = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

/** The root JSON logger; level from ELIXIRCHAIN_LOG_LEVEL (default info). */
export const rootLogger: Logger = pino({
  level: process.env.ELIXIRCHAIN_LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
  redact: { paths: redactPaths, censor: '[redacted]' },
  timestamp: pino.stdTimeFunctions.isoTime,
});

export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ service: name, ...bindings });
}
