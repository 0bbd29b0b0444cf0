import { networkInterfaces } from 'node:os';
import { ConfigError, envConfig } from '../config/env-config.js';
import type { Logger } from '../logging/logger.js';
import type { LeaseStore } from './lease-store.js';
import { MemoryStateLeaseStore, type LeaseStateClient } from './memory-state-lease-store.js';
import { connectRedis, redisUrlFromEnv, type RedisConnection } from './redis-connection.js';
import { RedisLeaseStore } from './redis-lease-store.js';

export type LeaseMode = 'redis' | 'memory' | 'off';

export interface ScaleOutConfig {
  /** `ELIXIRCHAIN_LEASES`: redis (default when ELIXIRCHAIN_REDIS_URL is set), memory, or off (one replica, default without Redis). */
  leases: LeaseMode;
  redisUrl: string | undefined;
  /** `ELIXIRCHAIN_REDIS_PREFIX` (default `elixirchain:`): keeps deployments apart on one Redis. */
  redisPrefix: string;
  /** `ELIXIRCHAIN_LEASE_TTL_MS` (default 10 000): how long a dead replica's agents and runs wait before another takes them. */
  leaseTtlMs: number;
  /** `ELIXIRCHAIN_TAKEOVER_SCAN_MS` (default ttl / 2): how often a replica looks for orphaned work. */
  takeoverScanMs: number;
  /** `ELIXIRCHAIN_ADVERTISE_ADDR`: the address other replicas forward to (default: the bound address). */
  advertiseAddress: string | undefined;
}

/** Reads the scale-out knobs; throws ConfigError naming the variable. */
export function scaleOutConfigFromEnv(env: Record<string, string | undefined> = process.env): ScaleOutConfig {
  const redisUrl = redisUrlFromEnv(env);
  const leases = envConfig.string('ELIXIRCHAIN_LEASES', redisUrl ? 'redis' : 'off', env) as LeaseMode;
  if (!['redis', 'memory', 'off'].includes(leases)) throw new ConfigError('ELIXIRCHAIN_LEASES', `must be redis, memory or off, got "${leases}"`);
  if (leases === 'redis' && !redisUrl) throw new ConfigError('ELIXIRCHAIN_LEASES', 'is redis but ELIXIRCHAIN_REDIS_URL is not set');
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('ELIXIRCHAIN_REDIS_URL', 'must start with redis:// or rediss://');
  const leaseTtlMs = envConfig.int('ELIXIRCHAIN_LEASE_TTL_MS', 10_000, { min: 200 }, env);
  return {
    leases,
    redisUrl,
    redisPrefix: envConfig.string('ELIXIRCHAIN_REDIS_PREFIX', 'elixirchain:', env),
    leaseTtlMs,
    takeoverScanMs: envConfig.int('ELIXIRCHAIN_TAKEOVER_SCAN_MS', Math.max(100, Math.floor(leaseTtlMs / 2)), { min: 50 }, env),
    advertiseAddress: envConfig.optionalString('ELIXIRCHAIN_ADVERTISE_ADDR', env),
  };
}

/** The lease store the config asks for (undefined when leases are off) and how to close what it opened. */
export async function openLeaseStore(
  config: ScaleOutConfig,
  memory: LeaseStateClient,
  log?: Logger,
): Promise<{ store: LeaseStore; redis?: RedisConnection; close(): Promise<void> } | undefined> {
  if (config.leases === 'off') return undefined;
  if (config.leases === 'memory') return { store: new MemoryStateLeaseStore(memory), close: async () => {} };
  const redis = await connectRedis(config.redisUrl!, log);
  return {
    store: new RedisLeaseStore(redis, config.redisPrefix),
    redis,
    close: async () => {
      if (redis.isOpen) await redis.close().catch(() => redis.destroy());
    },
  };
}

/**
 * The address other replicas should use to reach this one: the configured
 * one (ELIXIRCHAIN_ADVERTISE_ADDR), else the bound address, except that a
 * wildcard bind (0.0.0.0, ::) is replaced by this host's first non-loopback
 * IPv4 address (the pod or container IP).
 */
export function advertisedAddress(bound: string, configured?: string): string {
  if (configured) return configured;
  const match = /^(.*):(\d+)$/.exec(bound);
  if (!match) return bound;
  const [, host, port] = match;
  if (!['0.0.0.0', '::', '[::]', ''].includes(host)) return bound;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return `${a.address}:${port}`;
  }
  return `127.0.0.1:${port}`;
}
