import assert from 'node:assert/strict';
import { Agent, SendMessageRequest, TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { AgentHost } from '../src/host/agent-host.js';
import { InProcessMemory } from '../src/ports/in-process-memory.js';
import { InProcessToolRunner } from '../src/ports/in-process-tool-runner.js';

async function collect(stream: AsyncIterable<ThreadEvent>): Promise<ThreadEvent[]> {
  const out: ThreadEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

// A client (or a replica forwarding for it) that retries SendMessage while the first attempt's turn is
// starting — off the mailbox, its first checkpoint not yet durable — must re-attach, not start a second turn.
describe('agent-host: request_id de-duplication while a turn is starting', () => {
  it('a retry that arrives during the slow first checkpoint re-attaches to the same turn', async () => {
    const memory = new InProcessMemory();
    const host = new AgentHost({ memory, tools: new InProcessToolRunner([]) });
    try {
      await host.createAgent(Agent.fromPartial({ id: 'slow-store', model: { provider: 'scripted', script: [{ events: [{ chunkSize: 0, event: { $case: 'text', text: 'once' } }] }] } }), '');
      // The first checkpoint of the turn takes 300 ms (a loaded memory service).
      const batchWrite = memory.batchWrite.bind(memory);
      let firstCommitStarted!: () => void;
      const started = new Promise<void>((resolve) => (firstCommitStarted = resolve));
      let slowed = false;
      memory.batchWrite = async (request) => {
        if (!slowed) {
          slowed = true;
          firstCommitStarted();
          await new Promise((r) => setTimeout(r, 300));
        }
        return batchWrite(request);
      };
      const request = SendMessageRequest.fromPartial({ agentId: 'slow-store', threadId: 't', content: 'hello', requestId: 'req-1' });
      const first = collect(await host.sendMessage(request));
      await started;
      const retry = collect(await host.sendMessage(request));
      const [a, b] = await Promise.all([first, retry]);
      const turnOf = (events: ThreadEvent[]) => new Set(events.map((e) => e.turnId));
      assert.deepEqual([...turnOf(a)], [...turnOf(b)], 'both streams follow one turn');
      for (const events of [a, b]) {
        const last = events.at(-1)?.event;
        assert.equal(last?.$case === 'turnCompleted' ? last.turnCompleted.status : undefined, TurnStatus.TURN_STATUS_COMPLETED);
      }
      const { messages } = await memory.listMessages({ threadId: 't', pageSize: 10 });
      assert.deepEqual(messages.map((m) => m.content), ['hello', 'once'], 'one user message, one answer');
    } finally {
      await host.stop();
    }
  });
});
