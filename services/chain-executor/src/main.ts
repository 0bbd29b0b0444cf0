import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { advertisedAddress, AuditReporter, connectLeaseStateClient, createLogger, envConfig, LeaseManager, loadConfigOrExit, meshAddresses, openLeaseStore, runService, scaleOutConfigFromEnv } from '@elixirchain/runtime';
import { ChainExecutor, DEFAULT_EXECUTOR_LIMITS } from './chain-executor.js';
import { GrpcAgentStepRunner } from './execution/grpc-agent-step-runner.js';
import { GrpcToolStepRunner } from './execution/grpc-tool-step-runner.js';
import { chainService } from './server/chain-service.js';
import { MemoryStateStore } from './storage/memory-state-store.js';
import { TenantChainExecutors } from './tenancy/tenant-chain-executors.js';
import { chainExecutorNodeStatus } from './status/node-status.js';

const config = loadConfigOrExit('chain-executor', () => {
  const addresses = meshAddresses();
  const d = DEFAULT_EXECUTOR_LIMITS;
  return {
    addresses,
    durable: envConfig.string('ELIXIRCHAIN_CHAIN_DURABLE', 'true') !== 'false',
    limits: {
      maxActiveRuns: envConfig.int('ELIXIRCHAIN_CHAIN_MAX_ACTIVE_RUNS', d.maxActiveRuns, { min: 1 }),
      maxQueuedRuns: envConfig.int('ELIXIRCHAIN_CHAIN_MAX_QUEUED_RUNS', d.maxQueuedRuns, { min: 0 }),
      maxStepsInFlightPerRun: envConfig.int('ELIXIRCHAIN_CHAIN_MAX_STEPS_PER_RUN', d.maxStepsInFlightPerRun, { min: 1 }),
      maxStepsInFlight: envConfig.int('ELIXIRCHAIN_CHAIN_MAX_STEPS', d.maxStepsInFlight, { min: 1 }),
      finishedRetentionMs: d.finishedRetentionMs,
    },
    scaleOut: scaleOutConfigFromEnv(),
  };
});

const logger = createLogger('chain-executor');
const state = new MemoryStateStore(config.addresses.memory);
const tools = new GrpcToolStepRunner(config.addresses.toolSandbox);
const agents = new GrpcAgentStepRunner(config.addresses.agentHost);
// Replicas (ELIXIRCHAIN_LEASES / ELIXIRCHAIN_REDIS_URL): each run executes on the replica holding its lease.
// Every tenant's runs: leases `run/<tenant>/<id>` (tenant default: `run/<id>`) in one store every replica reads; without
// Redis that is the default tenant's state in memory (connectLeaseStateClient pins it), whoever's call takes the lease.
const leaseMemory = connectLeaseStateClient(config.addresses.memory, 'chain-executor');
const leaseStore = await openLeaseStore(config.scaleOut, leaseMemory, logger);
const replicaId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
// One lease manager per tenant's executor (stopping one gives back only its runs), all under this replica's id.
const leasesFor = (tenant: string) => (leaseStore ? new LeaseManager({ store: leaseStore.store, holder: replicaId, ttlMs: config.scaleOut.leaseTtlMs, log: logger.child({ tenant }) }) : undefined);
// Without replicas this process is the only writer of chain definitions: StartRun need not read them back.
const ownsDefinitions = leaseStore === undefined;
let advertised = '';
const executor = new ChainExecutor({ state, tools, agents, durable: config.durable, limits: config.limits, logger, leases: leasesFor('default'), ownsDefinitions });
// Every other tenant gets its own executor, whose memory, tool and agent calls are pinned to it.
const tenants = new TenantChainExecutors(
  executor,
  (tenant) => {
    const tenantExecutor = new ChainExecutor({
      state: state.forTenant(tenant),
      tools: tools.forTenant(tenant),
      agents: agents.forTenant(tenant),
      durable: config.durable,
      limits: config.limits,
      logger,
      leases: leasesFor(tenant),
      tenant,
      ownsDefinitions,
    });
    if (advertised) tenantExecutor.runs.ownership?.setAddress(advertised);
    return tenantExecutor;
  },
  state.forTenant('default'),
  logger,
);
const audit = new AuditReporter(config.addresses.memory, logger);

const status = chainExecutorNodeStatus(tenants, leaseStore ? replicaId : undefined);
const server = await runService({
  name: 'chain-executor',
  address: config.addresses.chainExecutor,
  services: [chainService(tenants, { audit }), status.binding],
  logger,
  onStop: async () => {
    await executor.stop();
    await tenants.stop();
    audit.close();
    await leaseStore?.close();
    leaseMemory.close();
    state.close();
    tools.close();
    agents.close();
  },
});
// In-flight runs stop at their last checkpoint; the next start resumes them.
server.onDrain(async () => {
  await executor.stop();
  await tenants.stop();
});
advertised = advertisedAddress(server.address, config.scaleOut.advertiseAddress);
// Executors built before the address was known (a tenant's first call) learn it too.
for (const started of await tenants.started()) started.runs.ownership?.setAddress(advertised);
status.setAddress(advertised);
// Every known tenant's runs whose executor died are taken over, the default tenant's included.
if (leaseStore) tenants.startTakeover(config.scaleOut.takeoverScanMs);
executor.recover().catch((error) => logger.error({ err: error }, 'could not resume unfinished runs'));
tenants.resumeKnownTenants().catch((error) => logger.error({ err: error }, 'could not resume tenants’ unfinished runs'));
