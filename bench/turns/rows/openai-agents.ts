// OpenAI Agents SDK: an Agent with a tool() and a custom Model (the SDK's
// extension point for other providers), run with stream: true.
import { Agent, run, setTracingDisabled, tool, Usage, type Model, type ModelRequest, type ModelResponse } from '@openai/agents';
import { z } from 'zod';
import type { Contender } from '../contender.js';
import { measureResidentHeap } from '../resident-heap.js';
import { add, AGENT_INSTRUCTIONS, REPLY_TEXT, TEXT_CHUNKS, TOOL_ARGUMENTS, TOOL_DESCRIPTION, TOOL_NAME, USER_MESSAGE, emptyOutcome, receiveText, type TurnOutcome } from '../workload.js';

type StreamEvent = ReturnType<Model['getStreamedResponse']> extends AsyncIterable<infer E> ? E : never;

/** Answers instantly: a function call until the input holds its output, then the reply in 50 deltas. */
class FakeModel implements Model {
  private static sawToolResult(request: ModelRequest): boolean {
    return Array.isArray(request.input) && request.input.some((item) => item.type === 'function_call_result');
  }

  private static response(request: ModelRequest): ModelResponse {
    const usage = new Usage({ requests: 1, inputTokens: 10, outputTokens: 50, totalTokens: 60 });
    if (!FakeModel.sawToolResult(request)) {
      return {
        usage,
        responseId: 'resp_tool',
        output: [{ type: 'function_call', id: 'fc_1', callId: 'call_1', name: TOOL_NAME, arguments: JSON.stringify(TOOL_ARGUMENTS), status: 'completed' }],
      };
    }
    return {
      usage,
      responseId: 'resp_text',
      output: [{ type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: REPLY_TEXT }] }],
    };
  }

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    return FakeModel.response(request);
  }

  async *getStreamedResponse(request: ModelRequest): AsyncIterable<StreamEvent> {
    const response = FakeModel.response(request);
    yield { type: 'response_started' };
    if (FakeModel.sawToolResult(request)) for (const delta of TEXT_CHUNKS) yield { type: 'output_text_delta', delta };
    yield {
      type: 'response_done',
      response: {
        id: response.responseId!,
        usage: { requests: 1, inputTokens: 10, outputTokens: 50, totalTokens: 60 },
        output: response.output,
      },
    } as StreamEvent;
  }
}

const addTool = tool({
  name: TOOL_NAME,
  description: TOOL_DESCRIPTION,
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: async (input) => add(input),
});

function createAgent(name: string, instructions: string): Agent {
  return new Agent({ name, instructions, model: new FakeModel(), tools: [addTool] });
}

async function runTurn(agent: Agent, keep?: unknown[]): Promise<TurnOutcome> {
  const outcome = emptyOutcome();
  const result = await run(agent, USER_MESSAGE, { stream: true });
  for await (const event of result) {
    if (event.type === 'raw_model_stream_event' && event.data.type === 'output_text_delta') receiveText(outcome, event.data.delta);
    else if (event.type === 'run_item_stream_event' && event.item.type === 'tool_call_output_item') outcome.toolResult = Number(event.item.output);
  }
  await result.completed;
  if (keep) keep.push(...result.history);
  return outcome;
}

export async function createContender(): Promise<Contender> {
  // Tracing would batch spans for export to OpenAI; nothing here may leave the machine.
  setTracingDisabled(true);
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
