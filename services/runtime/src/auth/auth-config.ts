import { readFileSync } from 'node:fs';
import { ConfigError, envConfig } from '../config/env-config.js';
import type { ApiKeyRecord, ApiKeyStore } from './api-keys.js';
import { Authenticator } from './authenticator.js';
import { isRole } from './principal.js';
import { meshAddresses } from '../config/env-config.js';
import type { TlsFiles } from '../server/server.js';
import { RemoteApiKeyStore } from './remote-api-key-store.js';
import { secretFromEnv } from './secret-env.js';

type Env = Record<string, string | undefined>;

export interface ServerAuth {
  /** "local": no authentication, loopback only (the developer mode); "required": every call authenticates. */
  mode: 'local' | 'required';
  authenticator?: Authenticator;
}

/** API keys from a JSON file: the bootstrap store before keys live in the memory service. */
export function fileKeyStore(path: string): ApiKeyStore {
  let records: Map<string, ApiKeyRecord>;
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Array<Record<string, unknown>>;
    records = new Map(
      raw.map((r) => {
        if (typeof r.id !== 'string' || typeof r.tenant !== 'string' || !isRole(r.role) || typeof r.secretHash !== 'string') {
          throw new Error('each key needs id, tenant, role and secretHash');
        }
        const date = (v: unknown) => (typeof v === 'string' ? new Date(v) : undefined);
        return [r.id, { id: r.id, tenant: r.tenant, role: r.role, secretHash: r.secretHash, createdAt: date(r.createdAt) ?? new Date(0), expiresAt: date(r.expiresAt), revokedAt: date(r.revokedAt) }];
      }),
    );
  } catch (error) {
    throw new ConfigError('ELIXIRCHAIN_API_KEYS_FILE', `cannot read API keys from ${path}: ${(error as Error).message}`);
  }
  return { get: async (id) => records.get(id) };
}

function parseServiceTokens(value: string | undefined): Map<string, string> | undefined {
  if (!value) return undefined;
  const tokens = new Map<string, string>();
  // Pairs separated by commas or newlines (a file: one `service=token` a line).
  for (const pair of value.split(/[,\n]/).filter((p) => p.trim() !== '')) {
    const [service, token] = pair.split('=').map((s) => s.trim());
    if (!service || !token || token.length < 16) throw new ConfigError('ELIXIRCHAIN_SERVICE_TOKENS', 'must be service=token pairs, tokens of at least 16 characters');
    tokens.set(token, service);
  }
  return tokens;
}

/**
 * Keys live in the memory service: a service that can prove itself to memory
 * (a service token or an mTLS certificate) and has no keys file verifies
 * bearer keys there. Memory itself passes its own store instead.
 */
export function meshKeyStore(env: Env = process.env): ApiKeyStore | undefined {
  if (envConfig.optionalString('ELIXIRCHAIN_API_KEYS_FILE', env)) return undefined;
  if (!secretFromEnv('ELIXIRCHAIN_SERVICE_TOKEN', env) && !envConfig.optionalString('ELIXIRCHAIN_TLS_CERT_FILE', env)) return undefined;
  return new RemoteApiKeyStore(meshAddresses(env).memory);
}

/** Server certificate (and client CA for mTLS) from ELIXIRCHAIN_TLS_*; none: plaintext. */
export function serverTlsFromEnv(env: Env = process.env): TlsFiles | undefined {
  const certFile = envConfig.optionalString('ELIXIRCHAIN_TLS_CERT_FILE', env);
  const keyFile = envConfig.optionalString('ELIXIRCHAIN_TLS_KEY_FILE', env);
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError(certFile ? 'ELIXIRCHAIN_TLS_KEY_FILE' : 'ELIXIRCHAIN_TLS_CERT_FILE', 'ELIXIRCHAIN_TLS_CERT_FILE and ELIXIRCHAIN_TLS_KEY_FILE go together');
  const requireClientCert = envConfig.bool('ELIXIRCHAIN_TLS_REQUIRE_CLIENT_CERT', false, env);
  const caFile = envConfig.optionalString('ELIXIRCHAIN_TLS_CA_FILE', env);
  if (requireClientCert && !caFile) throw new ConfigError('ELIXIRCHAIN_TLS_CA_FILE', 'is needed to verify client certificates (ELIXIRCHAIN_TLS_REQUIRE_CLIENT_CERT=true)');
  return { certFile, keyFile, caFile, requireClientCert };
}

/** Authentication settings from the environment; validated like every other setting. */
export function authFromEnv(env: Env = process.env, extra: { apiKeys?: ApiKeyStore; keyCacheMs?: number } = {}): ServerAuth {
  const mode = envConfig.oneOf('ELIXIRCHAIN_AUTH', ['local', 'required'] as const, 'local', env);
  if (mode === 'local') return { mode };
  const keysFile = envConfig.optionalString('ELIXIRCHAIN_API_KEYS_FILE', env);
  const jwksFile = envConfig.optionalString('ELIXIRCHAIN_JWT_JWKS_FILE', env);
  const jwksUrl = envConfig.url('ELIXIRCHAIN_JWT_JWKS_URL', env);
  const serviceTokens = parseServiceTokens(secretFromEnv('ELIXIRCHAIN_SERVICE_TOKENS', env));
  const apiKeys = extra.apiKeys ?? (keysFile ? fileKeyStore(keysFile) : undefined);
  if (!apiKeys && !jwksFile && !jwksUrl) {
    throw new ConfigError('ELIXIRCHAIN_AUTH', 'is "required" but no credentials are configured: set ELIXIRCHAIN_API_KEYS_FILE, ELIXIRCHAIN_JWT_JWKS_FILE or ELIXIRCHAIN_JWT_JWKS_URL');
  }
  return {
    mode,
    authenticator: new Authenticator({
      apiKeys,
      serviceTokens,
      mtlsServiceIdentity: envConfig.bool('ELIXIRCHAIN_TLS_REQUIRE_CLIENT_CERT', false, env),
      // How long a verified key is trusted before it is looked up again: the longest a revoked key keeps working.
      keyCacheMs: extra.keyCacheMs ?? envConfig.int('ELIXIRCHAIN_AUTH_KEY_CACHE_MS', 5_000, { min: 0, max: 600_000 }, env),
      failedAuthPerPeer: {
        ratePerSecond: envConfig.int('ELIXIRCHAIN_AUTH_FAILED_PER_SECOND', 5, { min: 1, max: 1_000_000 }, env),
        burst: envConfig.int('ELIXIRCHAIN_AUTH_FAILED_BURST', 20, { min: 1, max: 1_000_000 }, env),
      },
      jwt: jwksFile || jwksUrl
        ? {
            jwksFile,
            jwksUrl: jwksUrl?.toString(),
            issuer: envConfig.optionalString('ELIXIRCHAIN_JWT_ISSUER', env),
            audience: envConfig.optionalString('ELIXIRCHAIN_JWT_AUDIENCE', env),
            clockToleranceSec: envConfig.int('ELIXIRCHAIN_JWT_CLOCK_SKEW_SEC', 60, { min: 0, max: 3600 }, env),
          }
        : undefined,
    }),
  };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/;

/** Local developer mode may only listen on loopback: anything else must authenticate. */
export function assertSafeBind(address: string, auth: ServerAuth, env: Env = process.env): void {
  if (auth.mode !== 'local') return;
  // An explicit, named opt-out for a network that is private by construction (a compose network).
  if (envConfig.bool('ELIXIRCHAIN_ALLOW_UNAUTHENTICATED_BIND', false, env)) return;
  const host = address.slice(0, address.lastIndexOf(':'));
  if (!LOOPBACK.test(host)) {
    throw new ConfigError(
      'ELIXIRCHAIN_AUTH',
      `refusing to listen on ${address} without authentication; bind 127.0.0.1, or set ELIXIRCHAIN_AUTH=required with ELIXIRCHAIN_API_KEYS_FILE or ELIXIRCHAIN_JWT_JWKS_FILE`,
    );
  }
}
