// Process entry of the tool sandbox: configuration from the environment, then runService.
import { AuditReporter, createLogger, envConfig, loadConfigOrExit, meshAddresses, runService } from '@elixirchain/runtime';
import { DEFAULT_OPERATOR_LIMITS, defaultPoolSettings } from './config/operator-limits.js';
import { InMemoryToolStore } from './registry/in-memory-tool-store.js';
import { MemoryServiceToolStore } from './registry/memory-service-tool-store.js';
import type { ToolStore } from './registry/tool-store.js';
import { SecretStore } from './secrets/secret-store.js';
import { toolSandboxService } from './server/tool-sandbox-service.js';
import { ToolSandbox } from './sandbox/tool-sandbox.js';
import { toolSandboxNodeStatus } from './status/node-status.js';

const pool = defaultPoolSettings();
const config = loadConfigOrExit('tool-sandbox', () => ({
  address: meshAddresses().toolSandbox,
  memoryAddress: meshAddresses().memory,
  registry: envConfig.oneOf('ELIXIRCHAIN_SANDBOX_REGISTRY', ['memory', 'inprocess'] as const, 'memory'),
  allowGrantOnRegister: envConfig.bool('ELIXIRCHAIN_SANDBOX_ALLOW_GRANT_ON_REGISTER', true),
  pool: {
    workers: envConfig.int('ELIXIRCHAIN_SANDBOX_WORKERS', pool.workers, { min: 1, max: 64 }),
    maxCallsPerWorker: envConfig.int('ELIXIRCHAIN_SANDBOX_CALLS_PER_WORKER', pool.maxCallsPerWorker, { min: 1, max: 1000 }),
    maxQueue: envConfig.int('ELIXIRCHAIN_SANDBOX_MAX_QUEUE', pool.maxQueue, { min: 0 }),
    workerHeapMb: envConfig.int('ELIXIRCHAIN_SANDBOX_WORKER_HEAP_MB', pool.workerHeapMb, { min: 64 }),
  },
  limits: {
    maxMemoryMb: envConfig.int('ELIXIRCHAIN_SANDBOX_MAX_MEMORY_MB', DEFAULT_OPERATOR_LIMITS.maxMemoryMb, { min: 8 }),
    maxTimeoutMs: envConfig.int('ELIXIRCHAIN_SANDBOX_MAX_TIMEOUT_MS', DEFAULT_OPERATOR_LIMITS.maxTimeoutMs, { min: 10 }),
    maxOutputBytes: envConfig.int('ELIXIRCHAIN_SANDBOX_MAX_OUTPUT_BYTES', DEFAULT_OPERATOR_LIMITS.maxOutputBytes, { min: 2 }),
  },
  secrets: (() => {
    try {
      return SecretStore.fromEnv();
    } catch (error) {
      process.stderr.write(`elixirchain tool-sandbox: invalid configuration: ${(error as Error).message}\n`);
      process.exit(2);
    }
  })(),
}));

const logger = createLogger('tool-sandbox');
const store: ToolStore = config.registry === 'memory' ? new MemoryServiceToolStore(config.memoryAddress) : new InMemoryToolStore();
const sandbox = new ToolSandbox({ ...config, store, logger });
await sandbox.start();
const audit = new AuditReporter(config.memoryAddress, logger);

const status = toolSandboxNodeStatus(sandbox);
const server = await runService({
  name: 'tool-sandbox',
  address: config.address,
  services: [toolSandboxService(sandbox, { audit }), status.binding],
  logger,
  onStop: async () => {
    await sandbox.stop();
    audit.close();
  },
});
status.setAddress(server.address);
