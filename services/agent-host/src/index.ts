import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { rootLogger, startServer, type LeaseStore, type Logger } from '@elixirchain/runtime';
import type { AgentOwnership } from './ownership/agent-ownership.js';
import { ReplicaOwnership } from './ownership/replica-ownership.js';
import { OwnerForwarder } from './ownership/owner-forwarder.js';
import { AgentHost, type AgentHostOptions } from './host/agent-host.js';
import { TenantAgentHosts } from './host/tenant-agent-hosts.js';
import { GrpcMemoryPort } from './ports/grpc-memory-port.js';
import { GrpcToolRunner } from './ports/grpc-tool-runner.js';
import { agentServiceBinding } from './server.js';
import { agentHostNodeStatus } from './status/node-status.js';
import type { ModelProviderSettings } from './model/model-provider-factory.js';
import type { ActorOptions } from './actors/actor-context.js';

export { AgentHost } from './host/agent-host.js';
export { TenantAgentHosts } from './host/tenant-agent-hosts.js';
export type { AgentHostOptions, EventStream } from './host/agent-host.js';
export { agentServiceBinding } from './server.js';
export { InProcessMemory } from './ports/in-process-memory.js';
export { InProcessToolRunner } from './ports/in-process-tool-runner.js';
export type { InProcessTool } from './ports/in-process-tool-runner.js';
export type { MemoryPort } from './ports/memory-port.js';
export type { ToolRunner, ToolInfo, ToolInvocation, ToolOutcome } from './ports/tool-runner.js';
export { GrpcMemoryPort } from './ports/grpc-memory-port.js';
export { GrpcToolRunner } from './ports/grpc-tool-runner.js';
export { AgentOwnership, agentLease, notOwner, ownerKey } from './ownership/agent-ownership.js';
export { ReplicaOwnership } from './ownership/replica-ownership.js';
export type { Route } from './ownership/agent-ownership.js';
export { OwnershipFence } from './ownership/ownership-fence.js';
export { OwnerForwarder, FORWARDED_KEY } from './ownership/owner-forwarder.js';
export type { ModelProvider, ModelRequest, ModelEvent, ModelToolSpec } from './model/model-provider.js';
export { ModelError } from './model/model-provider.js';
export { ScriptedModelProvider } from './model/scripted-model-provider.js';
export { OpenAIModelProvider } from './model/openai-model-provider.js';
export { createInProcessAgentHost, runTurnInProcess } from './host/in-process.js';
export type { InProcessAgentHost, InProcessTurnResult } from './host/in-process.js';

export interface AgentHostServerOptions {
  /** host:port; '127.0.0.1:0' picks a free port. */
  address: string;
  memoryAddress: string;
  toolSandboxAddress: string;
  models?: ModelProviderSettings;
  actor?: Partial<ActorOptions>;
  restartIntensity?: AgentHostOptions['restartIntensity'];
  streamHighWaterBytes?: number;
  logger?: Logger;
  /** Resume unfinished turns found in memory on start (default true). */
  resume?: boolean;
  /** Several replicas on one memory: each agent owned by one replica through a lease, requests forwarded to the owner. */
  replicas?: ReplicaOptions;
}

export interface ReplicaOptions {
  /** Where leases live (RedisLeaseStore, or MemoryStateLeaseStore without Redis). */
  leases: LeaseStore;
  /** Unique per process (default: host, pid and a random suffix). */
  replicaId?: string;
  /** Lease ttl (default 10 s): how long a dead replica's agents wait before another takes them over. */
  leaseTtlMs?: number;
  /** How often to look for agents with unfinished turns and no owner (default ttl / 2). */
  takeoverScanMs?: number;
  /** The address other replicas forward to (default: the bound address). */
  advertiseAddress?: string;
}

export const newReplicaId = () => `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

/** Ownership of agents for one replica, every tenant's: leases (renewed in the background) plus the fencing records in memory. */
export function createReplicaOwnership(replicas: ReplicaOptions, log: Logger = rootLogger.child({ service: 'agent-host' })): ReplicaOwnership {
  return new ReplicaOwnership({ leases: replicas.leases, replicaId: replicas.replicaId ?? newReplicaId(), leaseTtlMs: replicas.leaseTtlMs ?? 10_000, log });
}

/** Ownership of the default tenant's agents for one replica (tests, benchmarks driving one AgentHost). */
export function createAgentOwnership(memory: GrpcMemoryPort | AgentHostOptions['memory'], replicas: ReplicaOptions, log: Logger = rootLogger.child({ service: 'agent-host' })): AgentOwnership {
  return createReplicaOwnership(replicas, log).forTenant('default', memory);
}

export interface AgentHostServer {
  readonly address: string;
  readonly host: AgentHost;
  stop(): Promise<void>;
}

/** Starts agent-host in this process against running memory and tool-sandbox services. */
export async function startAgentHostServer(options: AgentHostServerOptions): Promise<AgentHostServer> {
  const memory = new GrpcMemoryPort(options.memoryAddress);
  const tools = new GrpcToolRunner(options.toolSandboxAddress);
  const replicas = options.replicas ? createReplicaOwnership(options.replicas, options.logger) : undefined;
  const forwarder = replicas ? new OwnerForwarder(replicas.replicaId) : undefined;
  const hosts = TenantAgentHosts.overGrpc(memory, tools, replicas, {
    models: options.models ?? { openaiApiKey: process.env.OPENAI_API_KEY, openaiBaseUrl: process.env.OPENAI_BASE_URL },
    actor: options.actor,
    restartIntensity: options.restartIntensity,
    streamHighWaterBytes: options.streamHighWaterBytes,
    log: options.logger,
  });
  const host = hosts.defaultHost;
  const unfinished = (options.resume ?? true) ? await host.findUnfinished() : [];
  const status = agentHostNodeStatus(replicas?.replicaId);
  const server = await startServer({ name: 'agent-host', address: options.address, services: [agentServiceBinding(hosts, forwarder), status.binding], logger: options.logger });
  status.setAddress(options.replicas?.advertiseAddress ?? server.address);
  // Running turns stay checkpointed; the next process (or another replica) resumes them.
  server.onDrain(async () => {
    await host.stop();
    await hosts.stop();
  });
  replicas?.setAddress(options.replicas?.advertiseAddress ?? server.address);
  await host.resume(unfinished);
  if (options.resume ?? true) await hosts.resumeKnownTenants();
  if (replicas) {
    const ttl = options.replicas?.leaseTtlMs ?? 10_000;
    hosts.startTakeover(options.replicas?.takeoverScanMs ?? Math.max(100, Math.floor(ttl / 2)));
  }
  let stopped: Promise<void> | undefined;
  return {
    address: server.address,
    host,
    stop: () =>
      (stopped ??= (async () => {
        await server.drain();
        await host.stop();
        await hosts.stop();
        forwarder?.close();
        memory.close();
        tools.close();
      })()),
  };
}
