// ElixirChain as users run it: memory, tool-sandbox and agent-host as their own
// processes (started from their main.ts, as `npm start` does), this process as
// the gRPC client streaming SendMessage.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { AgentServiceClient, CreateAgentRequest, SendMessageRequest, type CreateAgentResponse, type SendMessageResponse } from '@elixirchain/proto/agent';
import { RegisterToolRequest, ToolSandboxServiceClient } from '@elixirchain/proto/sandbox';
import { freePort, spawnServiceProcess, type ServiceProcess } from '../../harness/service-process.js';
import { rssBytes } from '../../harness/process-stats.js';
import type { Contender, ResidentMeasurement } from '../contender.js';
import { ADD_TOOL_BUNDLE, ADD_TOOL_MANIFEST, benchAgent } from '../elixirchain-agent.js';
import { USER_MESSAGE, emptyOutcome, receiveText, type TurnOutcome } from '../workload.js';

const SERVICES_DIR = new URL('../../../services/', import.meta.url).pathname;
const ENTRIES = {
  memory: join(SERVICES_DIR, 'memory/src/main.ts'),
  'tool-sandbox': join(SERVICES_DIR, 'tool-sandbox/src/main.ts'),
  'agent-host': join(SERVICES_DIR, 'agent-host/src/main.ts'),
};

function unary<Req, Res>(call: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => call(request, (error, response) => (error ? reject(error) : resolve(response))));
}

export async function createContender(): Promise<Contender> {
  for (const [name, entry] of Object.entries(ENTRIES)) {
    if (!existsSync(entry)) throw new Error(`not available yet: ${name} has no ${entry.slice(SERVICES_DIR.length - 'services/'.length)}`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'elixirchain-bench-'));
  const [memoryPort, sandboxPort, hostPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const env = {
    ELIXIRCHAIN_DATA_DIR: dataDir,
    ELIXIRCHAIN_MEMORY_ADDR: `127.0.0.1:${memoryPort}`,
    ELIXIRCHAIN_TOOL_SANDBOX_ADDR: `127.0.0.1:${sandboxPort}`,
    ELIXIRCHAIN_AGENT_HOST_ADDR: `127.0.0.1:${hostPort}`,
  };
  const started: ServiceProcess[] = [];
  const start = async (name: keyof typeof ENTRIES, address: string): Promise<void> => {
    started.push(await spawnServiceProcess({ name, entry: ENTRIES[name], address, env, readyTimeoutMs: 60_000 }));
  };
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  };

  const credentials = grpc.credentials.createInsecure();
  const agents = new AgentServiceClient(env.ELIXIRCHAIN_AGENT_HOST_ADDR, credentials);
  const sandbox = new ToolSandboxServiceClient(env.ELIXIRCHAIN_TOOL_SANDBOX_ADDR, credentials);
  try {
    await start('memory', env.ELIXIRCHAIN_MEMORY_ADDR);
    await start('tool-sandbox', env.ELIXIRCHAIN_TOOL_SANDBOX_ADDR);
    await start('agent-host', env.ELIXIRCHAIN_AGENT_HOST_ADDR);
    await unary(sandbox.registerTool.bind(sandbox), RegisterToolRequest.fromPartial({ manifest: ADD_TOOL_MANIFEST, bundle: ADD_TOOL_BUNDLE, grantPermissions: true }));
    await createAgent('bench');
  } catch (error) {
    agents.close();
    sandbox.close();
    await stopAll();
    throw error;
  }

  function createAgent(id: string): Promise<CreateAgentResponse> {
    return unary(agents.createAgent.bind(agents), CreateAgentRequest.fromPartial({ agent: benchAgent(id) }));
  }

  function turn(agentId: string): Promise<TurnOutcome> {
    return new Promise<TurnOutcome>((resolve, reject) => {
      const outcome = emptyOutcome();
      const stream = agents.sendMessage(SendMessageRequest.fromPartial({ agentId, content: USER_MESSAGE }));
      stream.on('data', (response: SendMessageResponse) => {
        const event = response.event?.event;
        if (event?.$case === 'textDelta') receiveText(outcome, event.textDelta.text);
        else if (event?.$case === 'toolCallCompleted') {
          outcome.toolResult = Number(event.toolCallCompleted.result);
          if (event.toolCallCompleted.error) outcome.problem = `tool call failed: ${event.toolCallCompleted.error.message}`;
        }
        else if (event?.$case === 'error') reject(new Error(`turn failed: ${event.error.status?.message ?? 'unknown error'}`));
      });
      stream.on('error', reject);
      stream.on('end', () => resolve(outcome));
    });
  }

  const hostPid = (): number => started.find((s) => s.name === 'agent-host')!.pid;

  return {
    turn: () => turn('bench'),
    async residentAgents(count, timeBudgetMs): Promise<ResidentMeasurement> {
      // agent-host's GC cannot be forced from here: RSS growth is the honest, if coarse, figure.
      const before = rssBytes(hostPid());
      const deadline = performance.now() + timeBudgetMs;
      let made = 0;
      const worker = async (): Promise<void> => {
        while (made < count && performance.now() < deadline) {
          const id = `resident-${made++}`;
          await createAgent(id);
          await turn(id);
        }
      };
      await Promise.all(Array.from({ length: 32 }, worker));
      const after = rssBytes(hostPid());
      return { bytesPerAgent: (after - before) / made, method: 'RSS growth of agent-host', agents: made };
    },
    processes: () => Object.fromEntries(started.map((s) => [s.name, s.pid])),
    async close() {
      agents.close();
      sandbox.close();
      await stopAll();
    },
  };
}
