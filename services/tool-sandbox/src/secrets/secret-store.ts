import { readFileSync } from 'node:fs';

const ENV_PREFIX = 'ELIXIRCHAIN_SECRET_';

/**
 * The operator's secrets. Values come from a JSON file named by
 * ELIXIRCHAIN_SECRETS_FILE and from ELIXIRCHAIN_SECRET_<NAME> variables
 * (the variable wins), or are given directly (tests, embedding).
 */
export class SecretStore {
  private readonly values: Map<string, string>;

  constructor(values: Record<string, string> = {}) {
    this.values = new Map(Object.entries(values).filter(([, v]) => typeof v === 'string' && v.length > 0));
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): SecretStore {
    const values: Record<string, string> = {};
    const file = env.ELIXIRCHAIN_SECRETS_FILE;
    if (file) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        // Never echo the file's content (or a parse error quoting it): it is full of secrets.
        throw new Error(`ELIXIRCHAIN_SECRETS_FILE (${file}) is not a readable JSON file`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new Error(`ELIXIRCHAIN_SECRETS_FILE (${file}) must hold a JSON object of name -> string`);
      }
      for (const [name, value] of Object.entries(parsed)) {
        if (typeof value === 'string') values[name] = value;
      }
    }
    for (const [key, value] of Object.entries(env)) {
      if (key.startsWith(ENV_PREFIX) && value) values[key.slice(ENV_PREFIX.length)] = value;
    }
    return new SecretStore(values);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Values of the named secrets that exist. */
  pick(names: readonly string[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of names) {
      const value = this.values.get(name);
      if (value !== undefined) out[name] = value;
    }
    return out;
  }

  /** Every secret, for redacting the service's own logs. */
  all(): Record<string, string> {
    return Object.fromEntries(this.values);
  }
}
