import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { TurnStatus, type AgentServiceDefinition } from '@elixirchain/proto/agent';
import { connectRedis, spawnService } from '@elixirchain/runtime';
import type { RedisConnection, ServiceClient, SpawnedService } from '@elixirchain/runtime';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = (service: string) => join(repoRoot, 'services', service, 'src', 'main.ts');

export const PG_URL = process.env.ELIXIRCHAIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.ELIXIRCHAIN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface ScaleOutMeshOptions {
  agentHosts: number;
  chainExecutors: number;
  leaseTtlMs: number;
  takeoverScanMs: number;
  /** More environment for a service's processes (authentication, credentials). */
  env?: (service: string) => Record<string, string>;
}

/**
 * The replicated mesh as real processes: one memory on PostgreSQL (its own
 * schema), one tool-sandbox, several agent-hosts and chain-executors with
 * leases in Redis (their own key prefix). stop() drops the schema and the keys.
 */
export class ScaleOutMesh {
  readonly schema = `scaleout_${randomBytes(4).toString('hex')}`;
  readonly redisPrefix = `test-scaleout-${randomBytes(4).toString('hex')}:`;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'elixirchain-scaleout-'));
  readonly processes: SpawnedService[] = [];
  memory!: SpawnedService;
  toolSandbox!: SpawnedService;
  agentHosts: SpawnedService[] = [];
  chainExecutors: SpawnedService[] = [];
  redis!: RedisConnection;

  constructor(readonly options: ScaleOutMeshOptions) {}

  private get replicaEnv(): Record<string, string> {
    return {
      ELIXIRCHAIN_REDIS_URL: REDIS_URL,
      ELIXIRCHAIN_REDIS_PREFIX: this.redisPrefix,
      ELIXIRCHAIN_LEASE_TTL_MS: String(this.options.leaseTtlMs),
      ELIXIRCHAIN_TAKEOVER_SCAN_MS: String(this.options.takeoverScanMs),
    };
  }

  async start(): Promise<void> {
    this.redis = await connectRedis(REDIS_URL);
    const base = { ELIXIRCHAIN_DATA_DIR: this.dataDir };
    // memory also joins the cache invalidation channel (one replica here: it proves the wiring starts).
    this.memory = await this.spawn('memory', { ...base, ELIXIRCHAIN_MEMORY_ADDR: '127.0.0.1:0', ELIXIRCHAIN_STORE: PG_URL, ELIXIRCHAIN_PG_SCHEMA: this.schema, ELIXIRCHAIN_REDIS_URL: REDIS_URL, ELIXIRCHAIN_REDIS_PREFIX: this.redisPrefix });
    this.toolSandbox = await this.spawn('tool-sandbox', { ...base, ELIXIRCHAIN_MEMORY_ADDR: this.memory.address, ELIXIRCHAIN_TOOL_SANDBOX_ADDR: '127.0.0.1:0' });
    for (let i = 0; i < this.options.agentHosts; i++) await this.startAgentHost();
    for (let i = 0; i < this.options.chainExecutors; i++) {
      this.chainExecutors.push(
        await this.spawn('chain-executor', {
          ...base,
          ...this.replicaEnv,
          ELIXIRCHAIN_MEMORY_ADDR: this.memory.address,
          ELIXIRCHAIN_TOOL_SANDBOX_ADDR: this.toolSandbox.address,
          // Each executor talks to a different agent-host; agents are forwarded to their owners.
          ELIXIRCHAIN_AGENT_HOST_ADDR: this.agentHosts[i % this.agentHosts.length].address,
          ELIXIRCHAIN_CHAIN_EXECUTOR_ADDR: '127.0.0.1:0',
        }),
      );
    }
  }

  async startAgentHost(): Promise<SpawnedService> {
    const host = await this.spawn('agent-host', {
      ELIXIRCHAIN_DATA_DIR: this.dataDir,
      ...this.replicaEnv,
      ELIXIRCHAIN_MEMORY_ADDR: this.memory.address,
      ELIXIRCHAIN_TOOL_SANDBOX_ADDR: this.toolSandbox.address,
      ELIXIRCHAIN_AGENT_HOST_ADDR: '127.0.0.1:0',
    });
    this.agentHosts.push(host);
    return host;
  }

  /** The address of the replica holding a lease, from Redis (value: token \n holder \n data json). */
  async leaseHolder(resource: string): Promise<string | undefined> {
    const value = await this.redis.get(`${this.redisPrefix}lease:${resource}`);
    return typeof value === 'string' ? (JSON.parse(value.split('\n').slice(2).join('\n')) as { address: string }).address : undefined;
  }

  private async spawn(service: string, env: Record<string, string>): Promise<SpawnedService> {
    const child = await spawnService({ entry: entry(service), env: { ...this.options.env?.(service), ...env }, readyTimeoutMs: 60_000 });
    this.processes.push(child);
    return child;
  }

  async stop(): Promise<void> {
    for (const p of [...this.processes].reverse()) {
      try {
        process.kill(p.process.pid!, 'SIGCONT');
      } catch {
        // already gone
      }
      await p.kill().catch(() => undefined);
    }
    if (this.redis?.isOpen) {
      const keys = await this.redis.keys(`${this.redisPrefix}*`);
      if (keys.length > 0) await this.redis.del(keys);
      await this.redis.close();
    }
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    } finally {
      await client.end();
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Sends one message (request id `<thread>-<content>`) and returns the reply text, asserting the turn completed. */
export async function completedTurn(client: ServiceClient<typeof AgentServiceDefinition>, agentId: string, threadId: string, content: string): Promise<string> {
  let status: TurnStatus | undefined;
  let reply = '';
  for await (const res of client.sendMessage({ agentId, threadId, content, requestId: `${threadId}-${content}` })) {
    if (res.event?.event?.$case === 'textDelta') reply += res.event.event.textDelta.text;
    if (res.event?.event?.$case === 'turnCompleted') status = res.event.event.turnCompleted.status;
  }
  assert.equal(status, TurnStatus.TURN_STATUS_COMPLETED, `${agentId} ${content}`);
  return reply;
}
