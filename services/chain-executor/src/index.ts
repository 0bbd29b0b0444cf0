import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LeaseManager, startServer } from '@elixirchain/runtime';
import type { LeaseStore, Logger, RunningServer } from '@elixirchain/runtime';
import { ChainExecutor } from './chain-executor.js';
import type { ExecutorLimits } from './chain-executor.js';
import { GrpcAgentStepRunner } from './execution/grpc-agent-step-runner.js';
import { GrpcToolStepRunner } from './execution/grpc-tool-step-runner.js';
import { chainService } from './server/chain-service.js';
import { TenantChainExecutors } from './tenancy/tenant-chain-executors.js';
import { MemoryStateStore } from './storage/memory-state-store.js';
import { chainExecutorNodeStatus } from './status/node-status.js';

export { ChainExecutor, DEFAULT_EXECUTOR_LIMITS } from './chain-executor.js';
export type { ChainExecutorOptions, ExecutorLimits } from './chain-executor.js';
export { chainFromDocument, ChainDocumentError, formatChainDocument, parseChainDocument } from './definitions/chain-document.js';
export { validateChain } from './definitions/chain-validator.js';
export type { FieldViolation } from './definitions/chain-validator.js';
export { CelExpression } from './expressions/cel-expression.js';
export type { AgentInvocation, AgentStepRunner, ToolDescription, ToolInvocation, ToolStepRunner } from './execution/step-runners.js';
export type { RunCheckpointStore } from './runs/run-checkpoint-store.js';
export { EphemeralRunCheckpointStore, StateRunCheckpointStore } from './runs/run-checkpoint-store.js';
export type { StateStore } from './storage/state-store.js';
export { InProcessStateStore } from './storage/in-process-state-store.js';
export { MemoryStateStore } from './storage/memory-state-store.js';

export interface ChainExecutorServerOptions {
  /** host:port to listen on; '127.0.0.1:0' picks a free port. */
  address: string;
  memoryAddress: string;
  toolSandboxAddress: string;
  agentHostAddress: string;
  /** false keeps runs in memory only (no checkpoints). Default true. */
  durable?: boolean;
  limits?: Partial<ExecutorLimits>;
  logger?: Logger;
  /** Several replicas on one memory: each run executes on the replica holding its lease; orphaned runs are taken over. */
  replicas?: {
    leases: LeaseStore;
    replicaId?: string;
    /** Default 10 s: how long a dead replica's runs wait before another resumes them. */
    leaseTtlMs?: number;
    /** Default ttl / 2. */
    takeoverScanMs?: number;
    advertiseAddress?: string;
  };
}

export interface ChainExecutorServer {
  address: string;
  executor: ChainExecutor;
  server: RunningServer;
  /** Drains the server, stops runs at their last checkpoint (the next start resumes them), closes clients. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the chain executor in this process: definitions and checkpoints in
 * memory, tool steps on tool-sandbox, agent steps on agent-host. Runs a
 * previous process left unfinished resume once it is serving.
 */
export async function startChainExecutorServer(options: ChainExecutorServerOptions): Promise<ChainExecutorServer> {
  const state = new MemoryStateStore(options.memoryAddress);
  const tools = new GrpcToolStepRunner(options.toolSandboxAddress);
  const agents = new GrpcAgentStepRunner(options.agentHostAddress);
  const replicas = options.replicas;
  const ttl = replicas?.leaseTtlMs ?? 10_000;
  const leases = replicas
    ? new LeaseManager({ store: replicas.leases, holder: replicas.replicaId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`, ttlMs: ttl, log: options.logger })
    : undefined;
  // Without replicas this process is the only writer of chain definitions: StartRun need not read them back.
  const ownsDefinitions = leases === undefined;
  const executor = new ChainExecutor({ state, tools, agents, durable: options.durable, limits: options.limits, logger: options.logger, leases, ownsDefinitions });
  const tenants = new TenantChainExecutors(
    executor,
    (tenant) => new ChainExecutor({ state: state.forTenant(tenant), tools: tools.forTenant(tenant), agents: agents.forTenant(tenant), durable: options.durable, limits: options.limits, logger: options.logger, ownsDefinitions }),
    state.forTenant('default'),
    options.logger,
  );
  const status = chainExecutorNodeStatus(tenants, leases?.holder);
  const server = await startServer({ name: 'chain-executor', address: options.address, services: [chainService(tenants), status.binding], logger: options.logger });
  status.setAddress(replicas?.advertiseAddress ?? server.address);
  server.onDrain(async () => {
    await executor.stop();
    await tenants.stop();
  });
  executor.runs.ownership?.setAddress(replicas?.advertiseAddress ?? server.address);
  executor.runs.startTakeover(replicas?.takeoverScanMs ?? Math.max(100, Math.floor(ttl / 2)));
  const recovering = Promise.all([executor.recover(), tenants.resumeKnownTenants()]).catch((error) => server.logger.error({ err: error }, 'could not resume unfinished runs'));
  let stopping: Promise<void> | undefined;
  return {
    address: server.address,
    executor,
    server,
    stop() {
      stopping ??= (async () => {
        await recovering;
        await server.drain();
        await executor.stop();
        await tenants.stop();
        state.close();
        tools.close();
        agents.close();
      })();
      return stopping;
    },
  };
}
