// The workload as a hand-written loop: the least any agent runtime can do.
import type { Contender } from '../contender.js';
import { measureResidentHeap } from '../resident-heap.js';
import { add, AGENT_INSTRUCTIONS, TEXT_CHUNKS, TOOL_ARGUMENTS, TOOL_NAME, USER_MESSAGE, emptyOutcome, receiveText, type TurnOutcome } from '../workload.js';

type ChatMessage =
  | { role: 'system' | 'user' | 'assistant'; content: string }
  | { role: 'assistant'; toolCall: { id: string; name: string; arguments: string } }
  | { role: 'tool'; toolCallId: string; content: string };

type ModelEvent = { type: 'text'; delta: string } | { type: 'tool_call'; id: string; name: string; arguments: string };

/** The fake model: a tool call until it has seen a tool result, then the streamed reply. */
async function* fakeModel(messages: readonly ChatMessage[]): AsyncGenerator<ModelEvent> {
  if (!messages.some((m) => m.role === 'tool')) {
    yield { type: 'tool_call', id: 'call_1', name: TOOL_NAME, arguments: JSON.stringify(TOOL_ARGUMENTS) };
    return;
  }
  for (const delta of TEXT_CHUNKS) yield { type: 'text', delta };
}

const tools: Record<string, (input: any) => unknown> = { [TOOL_NAME]: add };

interface Agent {
  instructions: string;
  threads: Map<string, ChatMessage[]>;
}

/** Runs a turn and yields what a client would see; keeps the thread's history on the agent. */
async function* runTurn(agent: Agent, threadId: string, userText: string): AsyncGenerator<ModelEvent | { type: 'tool_result'; result: unknown }> {
  const history: ChatMessage[] = agent.threads.get(threadId) ?? [{ role: 'system', content: agent.instructions }];
  agent.threads.set(threadId, history);
  history.push({ role: 'user', content: userText });
  for (let step = 0; step < 8; step++) {
    let text = '';
    let called = false;
    for await (const event of fakeModel(history)) {
      if (event.type === 'text') {
        text += event.delta;
        yield event;
      } else {
        called = true;
        history.push({ role: 'assistant', toolCall: event });
        const result = tools[event.name]!(JSON.parse(event.arguments));
        history.push({ role: 'tool', toolCallId: event.id, content: JSON.stringify(result) });
        yield { type: 'tool_result', result };
      }
    }
    if (!called) {
      history.push({ role: 'assistant', content: text });
      return;
    }
  }
}

async function consume(agent: Agent, threadId: string): Promise<TurnOutcome> {
  const outcome = emptyOutcome();
  for await (const event of runTurn(agent, threadId, USER_MESSAGE)) {
    if (event.type === 'text') receiveText(outcome, event.delta);
    else if (event.type === 'tool_result') outcome.toolResult = event.result as number;
  }
  return outcome;
}

export async function createContender(): Promise<Contender> {
  const agent: Agent = { instructions: AGENT_INSTRUCTIONS, threads: new Map() };
  let thread = 0;
  return {
    async turn() {
      const threadId = `t${thread++}`;
      const outcome = await consume(agent, threadId);
      agent.threads.delete(threadId); // a fresh thread per turn; the benchmark does not grow history
      return outcome;
    },
    residentAgents: (count, timeBudgetMs) =>
      measureResidentHeap(count, timeBudgetMs, async (i) => {
        const resident: Agent = { instructions: `${AGENT_INSTRUCTIONS} #${i}`, threads: new Map() };
        await consume(resident, 'main');
        return resident;
      }),
    async close() {},
  };
}
