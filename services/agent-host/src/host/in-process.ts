import { Agent as AgentCodec, SendMessageRequest, type Agent, type ThreadEvent } from '@elixirchain/proto/agent';
import type { DeepPartial } from '@elixirchain/runtime';
import { AgentHost, type AgentHostOptions } from './agent-host.js';
import { InProcessMemory } from '../ports/in-process-memory.js';
import { InProcessToolRunner, type InProcessTool } from '../ports/in-process-tool-runner.js';

export interface InProcessAgentHost {
  host: AgentHost;
  memory: InProcessMemory;
  tools: InProcessToolRunner;
  /** Defines an agent (or replaces nothing: ALREADY_EXISTS if the id is taken). */
  createAgent(agent: DeepPartial<Agent>): Promise<Agent>;
  /** Runs one turn and collects its events; onEvent sees each as it streams. */
  runTurn(request: DeepPartial<SendMessageRequest>, onEvent?: (event: ThreadEvent) => void): Promise<InProcessTurnResult>;
  stop(): Promise<void>;
}

export interface InProcessTurnResult {
  threadId: string;
  turnId: string;
  events: ThreadEvent[];
  text: string;
}

/**
 * agent-host's turn engine without the network: the same actors, supervisor
 * and turn state machine over in-process memory and tool fakes. For
 * benchmarks (the cost of the engine itself) and for embedding in tests.
 */
export function createInProcessAgentHost(
  options: { tools?: InProcessTool[] } & Omit<Partial<AgentHostOptions>, 'memory' | 'tools'> = {},
): InProcessAgentHost {
  const memory = new InProcessMemory();
  const tools = new InProcessToolRunner(options.tools ?? []);
  const host = new AgentHost({ ...options, memory, tools });
  return {
    host,
    memory,
    tools,
    createAgent: (agent) => host.createAgent(agentFromPartial(agent), ''),
    runTurn: (request, onEvent) => runTurnInProcess(host, request, onEvent),
    stop: () => host.stop(),
  };
}

function agentFromPartial(agent: DeepPartial<Agent>): Agent {
  return AgentCodec.fromPartial(agent);
}

/** Sends one message through a host and waits for its turn to finish. */
export async function runTurnInProcess(host: AgentHost, request: DeepPartial<SendMessageRequest>, onEvent?: (event: ThreadEvent) => void): Promise<InProcessTurnResult> {
  const stream = await host.sendMessage(SendMessageRequest.fromPartial(request));
  const events: ThreadEvent[] = [];
  let text = '';
  try {
    for (let batch = await stream.nextBatch(); batch; batch = await stream.nextBatch()) {
      for (const event of batch) {
        events.push(event);
        if (event.event?.$case === 'textDelta') text += event.event.textDelta.text;
        onEvent?.(event);
      }
    }
  } finally {
    stream.close();
  }
  return { threadId: stream.threadId, turnId: stream.turnId, events, text };
}
