// Mastra: an Agent with a createTool() tool and Mastra's own mock model
// (MastraLanguageModelV2Mock from @mastra/core/test-utils), streamed.
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import { MastraLanguageModelV2Mock } from '@mastra/core/test-utils/llm-mock';
import { z } from 'zod';
import type { Contender } from '../contender.js';
import { measureResidentHeap } from '../resident-heap.js';
import { add, AGENT_INSTRUCTIONS, TEXT_CHUNKS, TOOL_ARGUMENTS, TOOL_DESCRIPTION, TOOL_NAME, USER_MESSAGE, emptyOutcome, receiveText, type TurnOutcome } from '../workload.js';

type StreamPart = Record<string, unknown> & { type: string };
const usage = { inputTokens: 10, outputTokens: 50, totalTokens: 60 };

/** The fake model's answer for one call, as a stream that is complete the moment it is read. */
function answer(prompt: ReadonlyArray<{ role: string }>): ReadableStream<StreamPart> {
  const parts: StreamPart[] = [{ type: 'stream-start', warnings: [] }];
  if (!prompt.some((m) => m.role === 'tool')) {
    parts.push(
      { type: 'tool-call', toolCallId: 'call_1', toolName: TOOL_NAME, input: JSON.stringify(TOOL_ARGUMENTS) },
      { type: 'finish', finishReason: 'tool-calls', usage },
    );
  } else {
    parts.push({ type: 'text-start', id: 'text_1' });
    for (const delta of TEXT_CHUNKS) parts.push({ type: 'text-delta', id: 'text_1', delta });
    parts.push({ type: 'text-end', id: 'text_1' }, { type: 'finish', finishReason: 'stop', usage });
  }
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(part);
      controller.close();
    },
  });
}

function createModel(): MastraLanguageModelV2Mock {
  return new MastraLanguageModelV2Mock({
    doStream: (async (options: { prompt: Array<{ role: string }> }) => ({ stream: answer(options.prompt) })) as never,
  });
}

const addTool = createTool({
  id: TOOL_NAME,
  description: TOOL_DESCRIPTION,
  inputSchema: z.object({ a: z.number(), b: z.number() }),
  execute: async (input) => add(input),
});

function createAgent(id: string, instructions: string): Agent {
  return new Agent({ id, name: id, instructions, model: createModel(), tools: { [TOOL_NAME]: addTool } });
}

async function runTurn(agent: Agent, keep?: unknown[]): Promise<TurnOutcome> {
  const outcome = emptyOutcome();
  const output = await agent.stream(USER_MESSAGE, { maxSteps: 5 });
  for await (const chunk of output.fullStream as AsyncIterable<{ type: string; payload?: any }>) {
    if (chunk.type === 'text-delta') receiveText(outcome, chunk.payload?.text as string);
    else if (chunk.type === 'tool-result') outcome.toolResult = chunk.payload?.result as number;
  }
  if (keep) keep.push(...((await output.response)?.messages ?? []));
  return outcome;
}

export async function createContender(): Promise<Contender> {
  const agent = createAgent('bench', AGENT_INSTRUCTIONS);
  return {
    turn: () => runTurn(agent),
    residentAgents: (count, timeBudgetMs) =>
      measureResidentHeap(count, timeBudgetMs, async (i) => {
        const resident = createAgent(`bench-${i}`, `${AGENT_INSTRUCTIONS} #${i}`);
        const history: unknown[] = [];
        await runTurn(resident, history);
        return { resident, history };
      }),
    async close() {},
  };
}
