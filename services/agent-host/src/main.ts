import { advertisedAddress, AuditReporter, envConfig, loadConfigOrExit, meshAddresses, openLeaseStore, rootLogger, runService, scaleOutConfigFromEnv } from '@elixirchain/runtime';
import { newReplicaId } from './index.js';
import { ReplicaOwnership } from './ownership/replica-ownership.js';
import { OwnerForwarder } from './ownership/owner-forwarder.js';
import { TenantAgentHosts } from './host/tenant-agent-hosts.js';
import { GrpcMemoryPort } from './ports/grpc-memory-port.js';
import { GrpcToolRunner } from './ports/grpc-tool-runner.js';
import { agentServiceBinding } from './server.js';
import { agentHostNodeStatus } from './status/node-status.js';

const config = loadConfigOrExit('agent-host', () => ({
  address: meshAddresses().agentHost,
  memoryAddress: meshAddresses().memory,
  toolSandboxAddress: meshAddresses().toolSandbox,
  openaiApiKey: process.env.OPENAI_API_KEY || undefined,
  openaiBaseUrl: process.env.OPENAI_BASE_URL || undefined,
  idleHibernateMs: envConfig.int('ELIXIRCHAIN_AGENT_IDLE_MS', 60_000, { min: 0 }),
  scaleOut: scaleOutConfigFromEnv(),
}));

const memory = new GrpcMemoryPort(config.memoryAddress);
const tools = new GrpcToolRunner(config.toolSandboxAddress);
// Replicas (ELIXIRCHAIN_LEASES / ELIXIRCHAIN_REDIS_URL): every agent is owned by one replica through a lease.
// Every tenant's agents: leases `agent/<tenant>/<id>` (tenant default: `agent/<id>`) in one store every replica reads;
// without Redis that is the default tenant's state in memory, whoever's call takes the lease.
const leaseStore = await openLeaseStore(config.scaleOut, memory.forTenant('default'));
const log = rootLogger.child({ service: 'agent-host' });
const replicas = leaseStore ? new ReplicaOwnership({ leases: leaseStore.store, replicaId: newReplicaId(), leaseTtlMs: config.scaleOut.leaseTtlMs, log }) : undefined;
const forwarder = replicas ? new OwnerForwarder(replicas.replicaId) : undefined;
// The default tenant's host, and every other tenant's (built on its first call) with memory and tool calls pinned to it.
const hosts = TenantAgentHosts.overGrpc(memory, tools, replicas, {
  models: { openaiApiKey: config.openaiApiKey, openaiBaseUrl: config.openaiBaseUrl },
  actor: { idleHibernateMs: config.idleHibernateMs },
  log,
});
const host = hosts.defaultHost;
const audit = new AuditReporter(config.memoryAddress);

// Find the turns a previous process left unfinished before taking new messages, so none is started without its resume.
const unfinished = await host.findUnfinished();

const status = agentHostNodeStatus(replicas?.replicaId);
const server = await runService({
  name: 'agent-host',
  address: config.address,
  services: [agentServiceBinding(hosts, forwarder, { audit }), status.binding],
  onStop: async () => {
    await host.stop();
    await hosts.stop();
    audit.close();
    forwarder?.close();
    await leaseStore?.close();
    memory.close();
    tools.close();
  },
});
server.onDrain(async () => {
  await host.stop();
  await hosts.stop();
});
replicas?.setAddress(advertisedAddress(server.address, config.scaleOut.advertiseAddress));
status.setAddress(advertisedAddress(server.address, config.scaleOut.advertiseAddress));
// Those turns pick up where their checkpoints stand.
await host.resume(unfinished);
const tenants = await hosts.resumeKnownTenants();
if (tenants > 0) server.logger.info({ tenants }, 'tenant hosts resumed');
if (replicas) {
  // Every known tenant's agents whose owner died are taken over, the default tenant's included.
  hosts.startTakeover(config.scaleOut.takeoverScanMs);
  server.logger.info({ replica: replicas.replicaId, leases: config.scaleOut.leases, leaseTtlMs: config.scaleOut.leaseTtlMs }, 'agent ownership by leases');
}
if (unfinished.length > 0) server.logger.info({ resumedAgents: unfinished.length }, 'resumed unfinished turns');
