import { startServer, type Logger } from '@elixirchain/runtime';
import { AgentHost, type AgentHostOptions } from './host/agent-host.js';
import { GrpcMemoryPort } from './ports/grpc-memory-port.js';
import { GrpcToolRunner } from './ports/grpc-tool-runner.js';
import { agentServiceBinding } from './server.js';
import type { ModelProviderSettings } from './model/model-provider-factory.js';
import type { ActorOptions } from './actors/actor-context.js';

export { AgentHost } from './host/agent-host.js';
export type { AgentHostOptions, EventStream } from './host/agent-host.js';
export { agentServiceBinding } from './server.js';
export { InProcessMemory } from './ports/in-process-memory.js';
export { InProcessToolRunner } from './ports/in-process-tool-runner.js';
export type { InProcessTool } from './ports/in-process-tool-runner.js';
export type { MemoryPort } from './ports/memory-port.js';
export type { ToolRunner, ToolInfo, ToolInvocation, ToolOutcome } from './ports/tool-runner.js';
export { GrpcMemoryPort } from './ports/grpc-memory-port.js';
export { GrpcToolRunner } from './ports/grpc-tool-runner.js';
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
  const host = new AgentHost({
    memory,
    tools,
    models: options.models ?? { openaiApiKey: process.env.OPENAI_API_KEY, openaiBaseUrl: process.env.OPENAI_BASE_URL },
    actor: options.actor,
    restartIntensity: options.restartIntensity,
    streamHighWaterBytes: options.streamHighWaterBytes,
    log: options.logger,
  });
  const unfinished = (options.resume ?? true) ? await host.findUnfinished() : [];
  const server = await startServer({ name: 'agent-host', address: options.address, services: [agentServiceBinding(host)], logger: options.logger });
  // Running turns stay checkpointed; the next process resumes them.
  server.onDrain(() => host.stop());
  await host.resume(unfinished);
  let stopped: Promise<void> | undefined;
  return {
    address: server.address,
    host,
    stop: () =>
      (stopped ??= (async () => {
        await server.drain();
        await host.stop();
        memory.close();
        tools.close();
      })()),
  };
}
