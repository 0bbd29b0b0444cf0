import { envConfig } from '../config/env-config.js';
import { secretFromEnv } from '../auth/secret-env.js';
import type { ClientTls } from './connect.js';

type Env = Record<string, string | undefined>;

/**
 * How this process proves itself to its peers, from the environment: its
 * mTLS client certificate (ELIXIRCHAIN_TLS_CA_FILE / _CERT_FILE / _KEY_FILE)
 * and/or its service token (ELIXIRCHAIN_SERVICE_TOKEN, or the file
 * ELIXIRCHAIN_SERVICE_TOKEN_FILE names). Explicit client
 * options win; with nothing set, calls are plaintext and carry no token.
 */
export function meshClientDefaults(env: Env = process.env): { tls?: ClientTls; metadata: Record<string, string> } {
  const caFile = envConfig.optionalString('ELIXIRCHAIN_TLS_CA_FILE', env);
  const certFile = envConfig.optionalString('ELIXIRCHAIN_TLS_CERT_FILE', env);
  const keyFile = envConfig.optionalString('ELIXIRCHAIN_TLS_KEY_FILE', env);
  const token = secretFromEnv('ELIXIRCHAIN_SERVICE_TOKEN', env);
  return {
    tls: caFile ? { caFile, certFile, keyFile } : undefined,
    metadata: token ? { authorization: `Bearer ${token}` } : {},
  };
}
