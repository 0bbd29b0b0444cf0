// Configuration from the environment, validated once at start-up. Precedence:
// explicit option > environment variable > default. A bad value stops the
// process with a message naming the variable.

export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function raw(name: string, env: Env): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export const envConfig = {
  string(name: string, fallback: string, env: Env = process.env): string {
    return raw(name, env) ?? fallback;
  },
  optionalString(name: string, env: Env = process.env): string | undefined {
    return raw(name, env);
  },
  int(name: string, fallback: number, range: { min?: number; max?: number } = {}, env: Env = process.env): number {
    const value = raw(name, env);
    if (value === undefined) return fallback;
    if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `must be a whole number, got "${value}"`);
    const n = Number(value);
    if (range.min !== undefined && n < range.min) throw new ConfigError(name, `must be at least ${range.min}, got ${n}`);
    if (range.max !== undefined && n > range.max) throw new ConfigError(name, `must be at most ${range.max}, got ${n}`);
    return n;
  },
  bool(name: string, fallback: boolean, env: Env = process.env): boolean {
    const value = raw(name, env)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    throw new ConfigError(name, `must be true or false, got "${value}"`);
  },
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T, env: Env = process.env): T {
    const value = raw(name, env);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  },
  /** host:port with a port from 0 to 65535. */
  address(name: string, fallback: string, env: Env = process.env): string {
    const value = raw(name, env) ?? fallback;
    const match = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
    if (!match || Number(match[1]) > 65535) throw new ConfigError(name, `must be host:port, got "${value}"`);
    return value;
  },
  url(name: string, env: Env = process.env): URL | undefined {
    const value = raw(name, env);
    if (value === undefined) return undefined;
    try {
      return new URL(value);
    } catch {
      throw new ConfigError(name, 'must be a URL');
    }
  },
};

/** Where each service listens / is reached. */
export interface MeshAddresses {
  agentHost: string;
  memory: string;
  toolSandbox: string;
  chainExecutor: string;
}

export const DEFAULT_ADDRESSES: MeshAddresses = {
  agentHost: '127.0.0.1:50051',
  memory: '127.0.0.1:50052',
  toolSandbox: '127.0.0.1:50053',
  chainExecutor: '127.0.0.1:50054',
};

export function meshAddresses(env: Env = process.env): MeshAddresses {
  return {
    agentHost: envConfig.address('ELIXIRCHAIN_AGENT_HOST_ADDR', DEFAULT_ADDRESSES.agentHost, env),
    memory: envConfig.address('ELIXIRCHAIN_MEMORY_ADDR', DEFAULT_ADDRESSES.memory, env),
    toolSandbox: envConfig.address('ELIXIRCHAIN_TOOL_SANDBOX_ADDR', DEFAULT_ADDRESSES.toolSandbox, env),
    chainExecutor: envConfig.address('ELIXIRCHAIN_CHAIN_EXECUTOR_ADDR', DEFAULT_ADDRESSES.chainExecutor, env),
  };
}

export function dataDir(env: Env = process.env): string {
  return envConfig.string('ELIXIRCHAIN_DATA_DIR', './.elixirchain', env);
}

/**
 * Reads configuration with `read`; on a ConfigError prints one line naming the
 * variable and exits with status 2 (a process main's start-up check).
 */
export function loadConfigOrExit<T>(service: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`elixirchain ${service}: invalid configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}
