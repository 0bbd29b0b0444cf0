import assert from 'node:assert/strict';
import { Agent, OnBusy, SendMessageRequest, TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { AgentHost } from '../src/host/agent-host.js';
import { InProcessMemory } from '../src/ports/in-process-memory.js';
import { InProcessToolRunner } from '../src/ports/in-process-tool-runner.js';

const text = (t: string, chunkSize = 0, delayMs = 0) => ({ chunkSize, event: { $case: 'text' as const, text: t }, ...(delayMs ? { delay: { seconds: Math.floor(delayMs / 1000), nanos: (delayMs % 1000) * 1e6 } } : {}) });
const call = (name: string, args: Record<string, unknown>, id = '') => ({ chunkSize: 0, event: { $case: 'toolCall' as const, toolCall: { name, arguments: args, id } } });

async function collect(stream: AsyncIterable<ThreadEvent>): Promise<ThreadEvent[]> {
  const out: ThreadEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

const send = (partial: Partial<SendMessageRequest>) => SendMessageRequest.fromPartial(partial);

describe('agent-host core with in-process memory and tools', () => {
  let memory: InProcessMemory;
  let tools: InProcessToolRunner;
  let host: AgentHost;

  beforeEach(() => {
    memory = new InProcessMemory();
    tools = new InProcessToolRunner([
      { name: 'add', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] }, run: (i) => ({ sum: Number(i.a) + Number(i.b) }) },
      { name: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] }, run: (i) => ({ echoed: i.text }) },
    ]);
    host = new AgentHost({ memory, tools });
  });
  afterEach(() => host.stop());

  it('runs a turn with two parallel tool calls and streams events in sequence order', async () => {
    await host.createAgent(
      Agent.fromPartial({
        id: 'calc',
        tools: [{ name: 'add' }, { name: 'echo' }],
        model: { provider: 'scripted', script: [{ events: [text('Working. '), call('add', { a: 2, b: 3 }), call('echo', { text: 'hi' })] }, { events: [text('The sum is 5.', 4)] }] },
      }),
      '',
    );
    const stream = await host.sendMessage(send({ agentId: 'calc', content: 'add 2 and 3' }));
    const events = await collect(stream);
    const kinds = events.map((e) => e.event?.$case);
    assert.deepEqual(kinds[0], 'turnStarted');
    assert.equal(kinds[kinds.length - 1], 'turnCompleted');
    assert.deepEqual(events.map((e) => e.sequence), events.map((e) => e.sequence).sort((a, b) => a - b));
    assert.equal(kinds.filter((k) => k === 'toolCallStarted').length, 2);
    assert.equal(kinds.filter((k) => k === 'toolCallCompleted').length, 2);
    const completed = events.find((e) => e.event?.$case === 'turnCompleted')!;
    assert.equal(completed.event?.$case === 'turnCompleted' && completed.event.turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
    const streamed = events.filter((e) => e.event?.$case === 'textDelta').map((e) => (e.event as any).textDelta.text).join('');
    assert.equal(streamed, 'Working. The sum is 5.');
    const history = memory.threads.get(stream.threadId)!.messages;
    assert.deepEqual(history.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT, Role.ROLE_TOOL, Role.ROLE_TOOL, Role.ROLE_ASSISTANT]);
    assert.deepEqual(tools.invocations.map((i) => i.name).sort(), ['add', 'echo']);
    const info = await host.getThread(stream.threadId);
    assert.equal(info.currentTurnId, '');
    assert.equal(info.messageCount, 5);
  });

  it('plays the default demo script: first tool with arguments from the message, then a reply using its result', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'demo', tools: [{ name: 'echo' }] }), '');
    const events = await collect(await host.sendMessage(send({ agentId: 'demo', content: 'hello there' })));
    const done = events.find((e) => e.event?.$case === 'toolCallCompleted');
    assert.deepEqual(done?.event?.$case === 'toolCallCompleted' && done.event.toolCallCompleted.result, { echoed: 'hello there' });
    const reply = events.filter((e) => e.event?.$case === 'textDelta').map((e) => (e.event as any).textDelta.text).join('');
    assert.match(reply, /echoed/);
  });

  it('writes each turn step in one batch: a plain turn costs two memory writes', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'plain', model: { provider: 'scripted', script: [{ events: [text('hello world', 2)] }] } }), '');
    const first = await collect(await host.sendMessage(send({ agentId: 'plain', content: 'hi', threadId: 'th-plain' })));
    assert.equal(first.at(-1)?.event?.$case, 'turnCompleted');
    const before = { ...memory.calls };
    await collect(await host.sendMessage(send({ agentId: 'plain', content: 'again', threadId: 'th-plain' })));
    assert.equal((memory.calls.batchWrite ?? 0) - (before.batchWrite ?? 0), 2);
    assert.equal((memory.calls.listMessages ?? 0) - (before.listMessages ?? 0), 0, 'history stays resident');
    assert.equal((memory.calls.getState ?? 0) - (before.getState ?? 0), 0);
  });

  it('rejects, queues and interrupts per on_busy', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'slow', limits: { mailboxCapacity: 1 }, model: { provider: 'scripted', script: [{ events: [text('a', 0, 300), text('b', 0, 300)] }] } }), '');
    const first = await host.sendMessage(send({ agentId: 'slow', content: 'one', threadId: 'busy' }));
    const firstEvents = collect(first);
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(host.sendMessage(send({ agentId: 'slow', content: 'two', threadId: 'busy', onBusy: OnBusy.ON_BUSY_REJECT })), (e: any) => e.code === 9 && e.reason === 'THREAD_BUSY');
    const queued = await host.sendMessage(send({ agentId: 'slow', content: 'three', threadId: 'busy', onBusy: OnBusy.ON_BUSY_QUEUE }));
    await assert.rejects(host.sendMessage(send({ agentId: 'slow', content: 'four', threadId: 'busy' })), (e: any) => e.code === 8 && e.retryAfterMs > 0);
    const queuedEvents = await collect(queued);
    assert.equal(queuedEvents[0].event?.$case, 'turnQueued');
    assert.equal((await firstEvents).at(-1)?.event?.$case, 'turnCompleted');
    const interrupted = collect(await host.sendMessage(send({ agentId: 'slow', content: 'five', threadId: 'busy' })));
    await new Promise((r) => setTimeout(r, 100));
    const interrupter = await collect(await host.sendMessage(send({ agentId: 'slow', content: 'six', threadId: 'busy', onBusy: OnBusy.ON_BUSY_INTERRUPT })));
    const cut = (await interrupted).at(-1)!;
    assert.equal(cut.event?.$case === 'turnCompleted' && cut.event.turnCompleted.status, TurnStatus.TURN_STATUS_INTERRUPTED);
    assert.equal(interrupter.at(-1)?.event?.$case === 'turnCompleted' && (interrupter.at(-1)!.event as any).turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
  });

  it('WatchThread with follow stays attached across turns; without follow it ends when the thread is idle', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'watched', model: { provider: 'scripted', script: [{ events: [text('hi', 0, 20)] }] } }), '');
    await collect(await host.sendMessage(send({ agentId: 'watched', content: 'one', threadId: 'w' })));
    const follower = await host.watchThread({ threadId: 'w', afterSequence: 0, follow: true });
    const seen: ThreadEvent[] = [];
    const following = (async () => {
      for await (const e of follower) {
        seen.push(e);
        if (seen.filter((x) => x.event?.$case === 'turnCompleted').length === 3) break;
      }
    })();
    await collect(await host.sendMessage(send({ agentId: 'watched', content: 'two', threadId: 'w' })));
    await collect(await host.sendMessage(send({ agentId: 'watched', content: 'three', threadId: 'w' })));
    await following;
    assert.equal(new Set(seen.map((e) => e.turnId)).size, 3);
    assert.deepEqual(seen.map((e) => e.sequence), [...seen.map((e) => e.sequence)].sort((a, b) => a - b));
    const idle = await collect(await host.watchThread({ threadId: 'w', afterSequence: seen.at(-1)!.sequence, follow: false }));
    assert.deepEqual(idle, [], 'nothing after the last event, and the stream ends');
  });
});
