// LangGraph.js: the prebuilt ReAct agent (createReactAgent) with a fake chat
// model, streamed with streamMode "messages" (token by token, as a chat UI would).
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage, AIMessageChunk, HumanMessage, ToolMessage, type BaseMessage } from '@langchain/core/messages';
import { ChatGenerationChunk, type ChatResult } from '@langchain/core/outputs';
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import { tool } from '@langchain/core/tools';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { z } from 'zod';
import type { Contender } from '../contender.js';
import { measureResidentHeap } from '../resident-heap.js';
import { add, AGENT_INSTRUCTIONS, REPLY_TEXT, TEXT_CHUNKS, TOOL_ARGUMENTS, TOOL_DESCRIPTION, TOOL_NAME, USER_MESSAGE, emptyOutcome, receiveText, type TurnOutcome } from '../workload.js';

/** Answers instantly: a tool call until it has seen a tool result, then the reply in 50 chunks. */
class FakeToolCallingChatModel extends BaseChatModel {
  _llmType(): string {
    return 'fake-tool-calling';
  }

  // The script already knows its one tool; binding changes nothing.
  override bindTools(): this {
    return this;
  }

  private static sawToolResult(messages: BaseMessage[]): boolean {
    return messages.some((m) => ToolMessage.isInstance(m));
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const message = FakeToolCallingChatModel.sawToolResult(messages)
      ? new AIMessage(REPLY_TEXT)
      : new AIMessage({ content: '', tool_calls: [{ id: 'call_1', name: TOOL_NAME, args: { ...TOOL_ARGUMENTS }, type: 'tool_call' }] });
    return { generations: [{ text: typeof message.content === 'string' ? message.content : '', message }] };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    _options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    if (!FakeToolCallingChatModel.sawToolResult(messages)) {
      yield new ChatGenerationChunk({
        text: '',
        message: new AIMessageChunk({
          content: '',
          tool_call_chunks: [{ id: 'call_1', name: TOOL_NAME, args: JSON.stringify(TOOL_ARGUMENTS), index: 0, type: 'tool_call_chunk' }],
        }),
      });
      return;
    }
    for (const text of TEXT_CHUNKS) {
      const chunk = new ChatGenerationChunk({ text, message: new AIMessageChunk({ content: text }) });
      yield chunk;
      await runManager?.handleLLMNewToken(text, undefined, undefined, undefined, undefined, { chunk });
    }
  }
}

const addTool = tool(async (input: { a: number; b: number }) => add(input), {
  name: TOOL_NAME,
  description: TOOL_DESCRIPTION,
  schema: z.object({ a: z.number(), b: z.number() }),
});

function createAgent(instructions: string) {
  return createReactAgent({ llm: new FakeToolCallingChatModel({}), tools: [addTool], prompt: instructions });
}

type Agent = ReturnType<typeof createAgent>;

async function runTurn(agent: Agent, keep?: BaseMessage[]): Promise<TurnOutcome> {
  const outcome = emptyOutcome();
  const stream = await agent.stream({ messages: [new HumanMessage(USER_MESSAGE)] }, { streamMode: ['messages', 'values'] });
  for await (const [mode, payload] of stream) {
    if (mode === 'values') {
      if (keep) keep.splice(0, keep.length, ...(payload as { messages: BaseMessage[] }).messages);
      continue;
    }
    const [message] = payload as [BaseMessage, unknown];
    if (AIMessageChunk.isInstance(message) && typeof message.content === 'string' && message.content) receiveText(outcome, message.content);
    else if (ToolMessage.isInstance(message)) outcome.toolResult = Number(message.content);
  }
  return outcome;
}

export async function createContender(): Promise<Contender> {
  // LangChain runs callbacks in the background by default; with turns in flight
  // at once, "messages" streams then close before all their tokens arrive
  // (measured: 21 of 50 with 5 concurrent turns). Awaiting them delivers every chunk.
  process.env.LANGCHAIN_CALLBACKS_BACKGROUND = 'false';
  const agent = createAgent(AGENT_INSTRUCTIONS);
  return {
    turn: () => runTurn(agent),
    residentAgents: (count, timeBudgetMs) =>
      measureResidentHeap(count, timeBudgetMs, async (i) => {
        const resident = createAgent(`${AGENT_INSTRUCTIONS} #${i}`);
        const history: BaseMessage[] = [];
        await runTurn(resident, history);
        return { resident, history };
      }),
    async close() {},
  };
}
