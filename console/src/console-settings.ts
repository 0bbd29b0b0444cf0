import { replicaAddressesFromEnv, type ReplicaAddressBook } from './gateway/mesh-status.js';

export interface ConsoleEnvSettings {
  /** ELIXIRCHAIN_CONSOLE_JAEGER_URL without a trailing slash; undefined: no trace links. */
  jaegerUrl?: string;
  /** ELIXIRCHAIN_<SERVICE>_REPLICAS lists. */
  replicas: ReplicaAddressBook;
}

/** What the console reads from its environment besides its address and the services' addresses. */
export function consoleSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ConsoleEnvSettings {
  return { jaegerUrl: jaegerUrlFromEnv(env), replicas: replicaAddressesFromEnv(env) };
}

/**
 * ELIXIRCHAIN_CONSOLE_JAEGER_URL: the Jaeger UI the browser can reach (e.g.
 * http://localhost:16686). Turns and runs link to <url>/trace/<trace id>.
 */
export function jaegerUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.ELIXIRCHAIN_CONSOLE_JAEGER_URL?.trim();
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`ELIXIRCHAIN_CONSOLE_JAEGER_URL: must be an http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`ELIXIRCHAIN_CONSOLE_JAEGER_URL: must be an http(s) URL, got "${value}"`);
  return url.href.replace(/\/+$/, '');
}
