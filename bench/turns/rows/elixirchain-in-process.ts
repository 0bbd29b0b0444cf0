// ElixirChain's turn engine without the network: agent-host's actors,
// supervisor and turn state machine in this process over its in-process
// memory and tool ports, so the gap to the gRPC row is what the hops cost.
import { SendMessageRequest } from '@elixirchain/proto/agent';
import { createInProcessAgentHost, type InProcessAgentHost } from '@elixirchain/agent-host';
import type { Contender } from '../contender.js';
import { benchAgent } from '../elixirchain-agent.js';
import { measureResidentHeap } from '../resident-heap.js';
import { add, AGENT_INSTRUCTIONS, TOOL_DESCRIPTION, TOOL_INPUT_SCHEMA, TOOL_NAME, USER_MESSAGE, emptyOutcome, receiveText, type TurnOutcome } from '../workload.js';

async function runTurn(engine: InProcessAgentHost, agentId: string): Promise<TurnOutcome> {
  const outcome = emptyOutcome();
  const stream = await engine.host.sendMessage(SendMessageRequest.fromPartial({ agentId, content: USER_MESSAGE }));
  for await (const event of stream) {
    const e = event.event;
    if (e?.$case === 'textDelta') receiveText(outcome, e.textDelta.text);
    else if (e?.$case === 'toolCallCompleted') {
      outcome.toolResult = Number(e.toolCallCompleted.result);
      if (e.toolCallCompleted.error) outcome.problem = `tool call failed: ${e.toolCallCompleted.error.message}`;
    }
    else if (e?.$case === 'error') throw new Error(`turn failed: ${e.error.status?.message ?? 'unknown error'}`);
  }
  return outcome;
}

export async function createContender(): Promise<Contender> {
  const engine = createInProcessAgentHost({
    tools: [
      {
        name: TOOL_NAME,
        description: TOOL_DESCRIPTION,
        inputSchema: structuredClone(TOOL_INPUT_SCHEMA) as Record<string, unknown>,
        readOnly: true,
        run: (input) => add(input as { a: number; b: number }),
      },
    ],
  });
  await engine.host.start();
  await engine.createAgent(benchAgent('bench'));
  return {
    turn: () => runTurn(engine, 'bench'),
    residentAgents: (count, timeBudgetMs) =>
      measureResidentHeap(count, timeBudgetMs, async (i) => {
        const id = `resident-${i}`;
        await engine.createAgent(benchAgent(id, `${AGENT_INSTRUCTIONS} #${i}`));
        await runTurn(engine, id);
        // The engine keeps the agent (registry, actor, thread) itself; nothing to hold here.
        return id;
      }),
    close: () => engine.stop(),
  };
}
