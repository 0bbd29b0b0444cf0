import assert from 'node:assert/strict';
import { Agent, SendMessageRequest, TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { AgentHost } from '../src/host/agent-host.js';
import { InProcessMemory } from '../src/ports/in-process-memory.js';
import { InProcessToolRunner } from '../src/ports/in-process-tool-runner.js';

const text = (t: string, delayMs = 0) => ({ chunkSize: 0, event: { $case: 'text' as const, text: t }, ...(delayMs ? { delay: { seconds: Math.floor(delayMs / 1000), nanos: (delayMs % 1000) * 1e6 } } : {}) });
const call = (name: string) => ({ chunkSize: 0, event: { $case: 'toolCall' as const, toolCall: { name, arguments: {}, id: '' } } });
const send = (partial: Partial<SendMessageRequest>) => SendMessageRequest.fromPartial(partial);
const last = (events: ThreadEvent[]) => events.at(-1)?.event as any;
const errorOf = (events: ThreadEvent[]) => (events.find((e) => e.event?.$case === 'error')?.event as any)?.error.status;

async function collect(stream: AsyncIterable<ThreadEvent>): Promise<ThreadEvent[]> {
  const out: ThreadEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

describe('agent-host turn limits, recall and idempotency (in-process ports)', () => {
  let memory: InProcessMemory;
  let tools: InProcessToolRunner;
  let host: AgentHost;
  beforeEach(() => {
    memory = new InProcessMemory();
    tools = new InProcessToolRunner([{ name: 'ping', run: () => 'pong' }]);
    host = new AgentHost({ memory, tools });
  });
  afterEach(() => host.stop());

  it('keeps at most max_idle_threads idle threads of a busy agent resident; a dropped thread reloads its history on its next turn', async () => {
    const bounded = new AgentHost({ memory, tools, actor: { maxIdleThreads: 4, maxIdleNewThreads: 2, idleHibernateMs: 0 } });
    try {
      await bounded.createAgent(Agent.fromPartial({ id: 'many', model: { provider: 'scripted', script: [{ events: [text('hi')] }] } }), '');
      // Two turns each: every thread is a conversation, kept in the LRU of maxIdleThreads.
      for (let round = 0; round < 2; round++) for (let i = 0; i < 12; i++) await collect(await bounded.sendMessage(send({ agentId: 'many', content: `m${i}.${round}`, threadId: `many-${i}` })));
      // The last turn's stream ends as its checkpoint lands; the actor notes the thread idle right after.
      await new Promise((resolve) => setImmediate(resolve));
      const actor = bounded.supervisor.resident('many')!;
      assert.ok(actor.residentThreads <= 4 + 1 + 2 + 1, `resident threads: ${actor.residentThreads}`);
      assert.ok(bounded.stats().threadLogs <= 4 + 1 + 2 + 1, `event logs kept: ${bounded.stats().threadLogs}`);
      assert.equal(actor.residentSession('many-0'), undefined, 'the least recently used thread was dropped');
      assert.ok(actor.residentSession('many-11'), 'the latest thread is resident');
      const reads = memory.calls.listMessages ?? 0;
      const again = await collect(await bounded.sendMessage(send({ agentId: 'many', content: 'again', threadId: 'many-0' })));
      assert.equal(last(again).turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
      assert.equal((memory.calls.listMessages ?? 0) - reads, 1, 'its history was read back once');
      assert.deepEqual(memory.threads.get('many-0')!.messages.map((m) => m.content), ['m0.0', 'hi', 'm0.1', 'hi', 'again', 'hi']);
    } finally {
      await bounded.stop();
    }
  });

  it('drops one-shot threads from a short FIFO of their own, so a burst of them does not flush a conversation', async () => {
    const bounded = new AgentHost({ memory, tools, actor: { maxIdleThreads: 4, maxIdleNewThreads: 2, idleHibernateMs: 0 } });
    try {
      await bounded.createAgent(Agent.fromPartial({ id: 'chat', model: { provider: 'scripted', script: [{ events: [text('hi')] }] } }), '');
      // A conversation: its second turn moves it from the new threads' FIFO to the LRU.
      for (const content of ['hello', 'and again']) await collect(await bounded.sendMessage(send({ agentId: 'chat', content, threadId: 'conversation' })));
      // Then a burst of one-shot threads, three times more than the LRU holds.
      for (let i = 0; i < 12; i++) await collect(await bounded.sendMessage(send({ agentId: 'chat', content: `once ${i}`, threadId: `once-${i}` })));
      await new Promise((resolve) => setImmediate(resolve));
      const actor = bounded.supervisor.resident('chat')!;
      assert.ok(actor.residentSession('conversation'), 'the conversation stayed resident through the burst');
      assert.equal(actor.residentSession('once-0'), undefined, 'the oldest one-shot thread was dropped');
      assert.ok(actor.residentThreads <= 1 + 2 + 1, `resident threads: ${actor.residentThreads}`);
      const reads = memory.calls.listMessages ?? 0;
      await collect(await bounded.sendMessage(send({ agentId: 'chat', content: 'still here?', threadId: 'conversation' })));
      assert.equal((memory.calls.listMessages ?? 0) - reads, 0, 'the conversation did not read its history back');
    } finally {
      await bounded.stop();
    }
  });

  it('fails a turn that runs past its timeout with DEADLINE_EXCEEDED', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'slowpoke', limits: { turnTimeout: { seconds: 0, nanos: 200e6 } }, model: { provider: 'scripted', script: [{ events: [text('a'), text('b', 5000)] }] } }), '');
    const events = await collect(await host.sendMessage(send({ agentId: 'slowpoke', content: 'x' })));
    assert.equal(last(events).turnCompleted.status, TurnStatus.TURN_STATUS_FAILED);
    assert.equal(errorOf(events).code, 4);
    assert.match(errorOf(events).message, /timeout/);
  });

  it('tells the model when the tool-call budget is spent and fails a model that keeps calling', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'greedy', tools: [{ name: 'ping' }], limits: { maxToolCallsPerTurn: 1 }, model: { provider: 'scripted', script: [{ events: [call('ping'), call('ping')] }] } }), '');
    const events = await collect(await host.sendMessage(send({ agentId: 'greedy', content: 'x' })));
    const completions = events.filter((e) => e.event?.$case === 'toolCallCompleted').map((e) => (e.event as any).toolCallCompleted);
    assert.equal(completions.filter((c) => !c.error).length, 1);
    assert.match(completions.find((c) => c.error)!.error.message, /limit of 1 tool calls/);
    assert.equal(tools.invocations.length, 1);
    assert.equal(last(events).turnCompleted.status, TurnStatus.TURN_STATUS_FAILED);
    assert.equal(errorOf(events).code, 8);
  });

  it('stops a turn that exceeds its token budget', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'chatty', tools: [{ name: 'ping' }], limits: { maxTokensPerTurn: 5 }, model: { provider: 'scripted', script: [{ events: [text('a long preamble before the call'), call('ping')] }, { events: [text('never')] }] } }), '');
    const events = await collect(await host.sendMessage(send({ agentId: 'chatty', content: 'x' })));
    assert.equal(last(events).turnCompleted.status, TurnStatus.TURN_STATUS_FAILED);
    assert.match(errorOf(events).message, /tokens/);
  });

  it('recalls memories before a turn and writes the exchange back after it', async () => {
    await memory.upsertMemories({ namespace: 'agent:rememberer', memories: [{ text: 'The user likes green tea' }] });
    let seen = '';
    const host2 = new AgentHost({
      memory,
      tools,
      providerFor: () => ({
        name: 'spy',
        async *stream(request) {
          seen = request.messages.map((m) => m.content).join('\n');
          yield [{ type: 'textDelta' as const, text: 'Green tea it is.' }];
        },
      }),
    });
    try {
      await host2.createAgent(Agent.fromPartial({ id: 'rememberer', memoryPolicy: { recall: true, writeBack: true, recallTopK: 3 } }), '');
      await collect(await host2.sendMessage(send({ agentId: 'rememberer', content: 'what tea does the user like' })));
      assert.match(seen, /Relevant memories:\n- The user likes green tea/);
      const stored = memory.memories.get('agent:rememberer')!.map((m) => m.text);
      assert.ok(stored.some((t) => /User: what tea does the user like\nAssistant: Green tea it is\./.test(t)));
    } finally {
      await host2.stop();
    }
  });

  it('re-attaches a retried SendMessage with the same request_id instead of starting another turn', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'once', model: { provider: 'scripted', script: [{ events: [text('hello ', 50), text('there', 50)] }] } }), '');
    const first = await collect(await host.sendMessage(send({ agentId: 'once', content: 'hi', threadId: 'idem', requestId: 'req-1' })));
    const retry = await collect(await host.sendMessage(send({ agentId: 'once', content: 'hi', threadId: 'idem', requestId: 'req-1' })));
    assert.deepEqual(retry.map((e) => e.sequence), first.map((e) => e.sequence));
    assert.equal(memory.threads.get('idem')!.messages.length, 2, 'one user message, one answer');
  });

  it('cancels a queued turn without running it', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'q', model: { provider: 'scripted', script: [{ events: [text('slow', 300)] }] } }), '');
    const running = collect(await host.sendMessage(send({ agentId: 'q', content: '1', threadId: 'qq' })));
    await new Promise((r) => setTimeout(r, 50));
    const queued = await host.sendMessage(send({ agentId: 'q', content: '2', threadId: 'qq' }));
    const res = await host.cancelTurn({ threadId: 'qq', turnId: queued.turnId, reason: '', requestId: '' });
    assert.equal(res.cancelled, true);
    assert.equal(last(await collect(queued)).turnCompleted.status, TurnStatus.TURN_STATUS_CANCELLED);
    assert.equal(last(await running).turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
    assert.equal(memory.threads.get('qq')!.messages.length, 2);
  });

  it('answers bad requests with INVALID_ARGUMENT naming the field', async () => {
    await assert.rejects(host.sendMessage(send({ agentId: '', content: '' })), (e: any) => e.code === 3 && e.fieldViolations.map((v: any) => v.field).join() === 'agent_id,content');
    await assert.rejects(host.sendMessage(send({ agentId: 'a', content: 'x', threadId: 'bad/thread' })), (e: any) => e.fieldViolations[0].field === 'thread_id');
    await assert.rejects(host.watchThread({ threadId: 'nope', afterSequence: 0, follow: false }), (e: any) => e.code === 5);
    await assert.rejects(host.getThread(''), (e: any) => e.code === 3);
    await assert.rejects(host.createAgent(Agent.fromPartial({ id: 'huge', instructions: 'x'.repeat(99_000), model: { script: [{ events: [text('y'.repeat(2_000_000))] }] } }), ''), (e: any) => e.code === 3 && e.fieldViolations[0].field === 'agent');
  });
});
