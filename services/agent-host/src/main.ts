import { envConfig, loadConfigOrExit, meshAddresses, runService } from '@elixirchain/runtime';
import { AgentHost } from './host/agent-host.js';
import { GrpcMemoryPort } from './ports/grpc-memory-port.js';
import { GrpcToolRunner } from './ports/grpc-tool-runner.js';
import { agentServiceBinding } from './server.js';

const config = loadConfigOrExit('agent-host', () => ({
  address: meshAddresses().agentHost,
  memoryAddress: meshAddresses().memory,
  toolSandboxAddress: meshAddresses().toolSandbox,
  openaiApiKey: process.env.OPENAI_API_KEY || undefined,
  openaiBaseUrl: process.env.OPENAI_BASE_URL || undefined,
  idleHibernateMs: envConfig.int('ELIXIRCHAIN_AGENT_IDLE_MS', 60_000, { min: 0 }),
}));

const memory = new GrpcMemoryPort(config.memoryAddress);
const tools = new GrpcToolRunner(config.toolSandboxAddress);
const host = new AgentHost({
  memory,
  tools,
  models: { openaiApiKey: config.openaiApiKey, openaiBaseUrl: config.openaiBaseUrl },
  actor: { idleHibernateMs: config.idleHibernateMs },
});

// Find the turns a previous process left unfinished before taking new messages, so none is started without its resume.
const unfinished = await host.findUnfinished();

const server = await runService({
  name: 'agent-host',
  address: config.address,
  services: [agentServiceBinding(host)],
  onStop: async () => {
    await host.stop();
    memory.close();
    tools.close();
  },
});
server.onDrain(() => host.stop());
// Those turns pick up where their checkpoints stand.
await host.resume(unfinished);
if (unfinished.length > 0) server.logger.info({ resumedAgents: unfinished.length }, 'resumed unfinished turns');
