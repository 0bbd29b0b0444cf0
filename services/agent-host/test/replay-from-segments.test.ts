import assert from 'node:assert/strict';
import { Agent, SendMessageRequest, ThreadEvent, WatchThreadRequest } from '@elixirchain/proto/agent';
import { AgentHost } from '../src/host/agent-host.js';
import { InProcessMemory } from '../src/ports/in-process-memory.js';
import { InProcessToolRunner } from '../src/ports/in-process-tool-runner.js';

/** As a client decodes them: live events may leave default fields out. */
const decoded = (events: ThreadEvent[]) => events.map((e) => ThreadEvent.fromPartial(e));

async function collect(stream: AsyncIterable<ThreadEvent>): Promise<ThreadEvent[]> {
  const out: ThreadEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

// WatchThread(after_sequence) served from storage (no process remembers the
// thread) reads the event segments from shortly before after_sequence on,
// not every segment of the thread.
describe('replaying a thread from memory after after_sequence', function () {
  this.timeout(30_000);

  it('reads only the segments it needs, and replays exactly the events after after_sequence', async () => {
    const memory = new InProcessMemory();
    const writer = new AgentHost({ memory, tools: new InProcessToolRunner([]), actor: { flushEveryEvents: 10 } });
    await writer.createAgent(Agent.fromPartial({ id: 'long', model: { provider: 'scripted', script: [{ events: [{ chunkSize: 1, event: { $case: 'text', text: 'x'.repeat(3000) } }] }] } }), '');
    const live = await collect(await writer.sendMessage(SendMessageRequest.fromPartial({ agentId: 'long', content: 'go', threadId: 'long-thread' })));
    await writer.stop();
    const segments = [...memory.state.keys()].filter((k) => k.startsWith('thread-events/long-thread/')).length;
    assert.ok(segments > 250, `the turn was stored in many segments (${segments})`);

    let entriesRead = 0;
    const listState = memory.listState.bind(memory);
    memory.listState = async (request) => {
      const page = await listState(request);
      if (request.prefix?.startsWith('thread-events/')) entriesRead += page.entries.length;
      return page;
    };
    const reader = new AgentHost({ memory, tools: new InProcessToolRunner([]) });
    try {
      const last = live.at(-1)!.sequence;
      const tail = await collect(await reader.watchThread(WatchThreadRequest.fromPartial({ threadId: 'long-thread', afterSequence: last - 5 })));
      assert.deepEqual(decoded(tail), decoded(live.slice(-5)), 'the last five events, as they were streamed');
      assert.ok(entriesRead <= 1024 / 10 + 5, `read ${entriesRead} of ${segments} segments`);

      entriesRead = 0;
      const all = await collect(await reader.watchThread(WatchThreadRequest.fromPartial({ threadId: 'long-thread', afterSequence: 0 })));
      assert.deepEqual(decoded(all), decoded(live), 'from the start: every event');
      assert.equal(entriesRead, segments);
    } finally {
      await reader.stop();
    }
  });
  it('replays the step events of a running turn, which its record carries instead of a segment', async () => {
    const memory = new InProcessMemory();
    const tools = new InProcessToolRunner([{ name: 'wipe', run: () => 'wiped' }]);
    const writer = new AgentHost({ memory, tools });
    await writer.createAgent(Agent.fromPartial({ id: 'careful', tools: [{ name: 'wipe', requireApproval: true }], model: { provider: 'scripted', script: [{ events: [{ chunkSize: 0, event: { $case: 'toolCall', toolCall: { id: 'w1', name: 'wipe', arguments: {} } } }] }, { events: [{ chunkSize: 0, event: { $case: 'text', text: 'done' } }] }] } }), '');
    const stream = await writer.sendMessage(SendMessageRequest.fromPartial({ agentId: 'careful', content: 'wipe it', threadId: 'careful-thread' }));
    const seen: ThreadEvent[] = [];
    for await (const e of stream) {
      seen.push(e);
      if (e.event?.$case === 'approvalRequired') break;
    }
    await writer.stop();
    assert.equal([...memory.state.keys()].filter((k) => k.startsWith('thread-events/careful-thread/')).length, 0, 'no segment yet: the record carries the step events');
    const reader = new AgentHost({ memory, tools });
    try {
      const replayed: ThreadEvent[] = [];
      const watch = await reader.watchThread(WatchThreadRequest.fromPartial({ threadId: 'careful-thread', afterSequence: 0 }));
      for await (const e of watch) {
        replayed.push(e);
        if (e.event?.$case === 'approvalRequired') break;
      }
      assert.deepEqual(decoded(replayed), decoded(seen), 'turn started, tool call started, approval required');
    } finally {
      await reader.stop();
    }
  });
});
