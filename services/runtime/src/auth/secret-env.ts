import { readFileSync } from 'node:fs';
import { ConfigError, envConfig } from '../config/env-config.js';

type Env = Record<string, string | undefined>;

/**
 * A secret setting from `NAME`, or read from the file `NAME_FILE` names (how
 * Compose `secrets:` and mounted Kubernetes Secrets hand secrets to a process,
 * keeping them out of the environment listing). Surrounding whitespace is
 * trimmed; setting both is a configuration error, as is an unreadable or empty
 * file. Used for ELIXIRCHAIN_SERVICE_TOKEN, ELIXIRCHAIN_SERVICE_TOKENS and the
 * CLI's ELIXIRCHAIN_TOKEN.
 */
export function secretFromEnv(name: string, env: Env = process.env): string | undefined {
  const direct = envConfig.optionalString(name, env);
  const file = envConfig.optionalString(`${name}_FILE`, env);
  if (file === undefined) return direct;
  if (direct !== undefined) throw new ConfigError(name, `set either ${name} or ${name}_FILE, not both`);
  let value: string;
  try {
    value = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(`${name}_FILE`, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!value) throw new ConfigError(`${name}_FILE`, `${file} is empty`);
  return value;
}
