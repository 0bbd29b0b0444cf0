import { createLogger, envConfig, loadConfigOrExit, meshAddresses, runService } from '@elixirchain/runtime';
import { ChainExecutor, DEFAULT_EXECUTOR_LIMITS } from './chain-executor.js';
import { GrpcAgentStepRunner } from './execution/grpc-agent-step-runner.js';
import { GrpcToolStepRunner } from './execution/grpc-tool-step-runner.js';
import { chainService } from './server/chain-service.js';
import { MemoryStateStore } from './storage/memory-state-store.js';

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
  };
});

const logger = createLogger('chain-executor');
const state = new MemoryStateStore(config.addresses.memory);
const tools = new GrpcToolStepRunner(config.addresses.toolSandbox);
const agents = new GrpcAgentStepRunner(config.addresses.agentHost);
const executor = new ChainExecutor({ state, tools, agents, durable: config.durable, limits: config.limits, logger });

const server = await runService({
  name: 'chain-executor',
  address: config.addresses.chainExecutor,
  services: [chainService(executor)],
  logger,
  onStop: async () => {
    await executor.stop();
    state.close();
    tools.close();
    agents.close();
  },
});
// In-flight runs stop at their last checkpoint; the next start resumes them.
server.onDrain(() => executor.stop());
executor.recover().catch((error) => logger.error({ err: error }, 'could not resume unfinished runs'));
