import assert from 'node:assert/strict';
import { Agent, SendMessageRequest, TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { until } from '@elixirchain/runtime';
import { AgentHost, type AgentHostOptions } from '../src/host/agent-host.js';
import { InProcessMemory } from '../src/ports/in-process-memory.js';
import { InProcessToolRunner } from '../src/ports/in-process-tool-runner.js';
import { ModelProviderFactory } from '../src/model/model-provider-factory.js';
import type { ModelProvider } from '../src/model/model-provider.js';

const text = (t: string, chunkSize = 0, delayMs = 0) => ({ chunkSize, event: { $case: 'text' as const, text: t }, ...(delayMs ? { delay: { seconds: Math.floor(delayMs / 1000), nanos: (delayMs % 1000) * 1e6 } } : {}) });
const call = (name: string, args: Record<string, unknown>) => ({ chunkSize: 0, event: { $case: 'toolCall' as const, toolCall: { name, arguments: args, id: '' } } });
const crash = (message: string) => ({ chunkSize: 0, event: { $case: 'error' as const, error: { httpStatus: 0, message } } });
const send = (partial: Partial<SendMessageRequest>) => SendMessageRequest.fromPartial(partial);
const kinds = (events: ThreadEvent[]) => events.map((e) => e.event?.$case);
const statusOf = (events: ThreadEvent[]) => {
  const last = events.at(-1);
  return last?.event?.$case === 'turnCompleted' ? last.event.turnCompleted.status : undefined;
};
const textOf = (events: ThreadEvent[]) => events.map((e) => (e.event?.$case === 'textDelta' ? e.event.textDelta.text : '')).join('');

async function collect(stream: AsyncIterable<ThreadEvent>, onEvent?: (e: ThreadEvent) => void): Promise<ThreadEvent[]> {
  const out: ThreadEvent[] = [];
  for await (const e of stream) {
    out.push(e);
    onEvent?.(e);
  }
  return out;
}

describe('agent-host supervision, durability and approvals (in-process ports)', () => {
  let memory: InProcessMemory;
  let tools: InProcessToolRunner;
  const hosts: AgentHost[] = [];
  const newHost = (extra: Partial<AgentHostOptions> = {}) => {
    const host = new AgentHost({ memory, tools, ...extra });
    hosts.push(host);
    return host;
  };
  let slowRelease: (() => void) | undefined;

  beforeEach(() => {
    memory = new InProcessMemory();
    tools = new InProcessToolRunner([
      { name: 'quick', run: () => ({ ok: true }) },
      { name: 'slowpoke', run: (_i, ctx) => new Promise((resolve, reject) => { slowRelease = () => resolve({ slow: true }); ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))); }) },
      { name: 'rm', destructive: true, inputSchema: { type: 'object', properties: { path: { type: 'string' } } }, run: (i) => ({ removed: i.path }) },
      { name: 'fetcher', permissions: { networkHosts: ['api.example.com'], secrets: [] }, run: () => ({ fetched: true }) },
    ]);
  });
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.stop();
  });

  it('restarts a crashing actor from its checkpoint without disturbing another agent’s concurrent turn', async () => {
    const host = newHost();
    await host.createAgent(Agent.fromPartial({ id: 'steady', model: { provider: 'scripted', script: [{ events: [text('one ', 0, 100), text('two ', 0, 100), text('three', 0, 100)] }] } }), '');
    await host.createAgent(Agent.fromPartial({ id: 'crashy', model: { provider: 'scripted', script: [{ events: [text('before ', 0, 50), crash('actor bug'), text('after')] }] } }), '');
    const steady = collect(await host.sendMessage(send({ agentId: 'steady', content: 'go' })));
    const crashyStream = await host.sendMessage(send({ agentId: 'crashy', content: 'go' }));
    const crashy = await collect(crashyStream);
    const steadyEvents = await steady;
    assert.equal(statusOf(steadyEvents), TurnStatus.TURN_STATUS_COMPLETED);
    assert.equal(textOf(steadyEvents), 'one two three');
    assert.equal(statusOf(crashy), TurnStatus.TURN_STATUS_COMPLETED);
    assert.match(textOf(crashy), /after$/);
    assert.equal(host.stats().restarts, 1);
    const history = memory.threads.get(crashyStream.threadId)!.messages;
    assert.deepEqual(history.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT]);
    assert.equal(history[1].content, 'before after');
  });

  it('gives up past the restart intensity: error event, FAILED_PRECONDITION, then works again after UpdateAgent', async () => {
    let broken = true;
    const factory = new ModelProviderFactory();
    const alwaysCrash: ModelProvider = { name: 'broken', stream: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new TypeError('provider bug')) }) }) };
    const host = newHost({ providerFor: (agent) => (agent.id === 'doomed' && broken ? alwaysCrash : factory.providerFor(agent)), restartIntensity: { maxRestarts: 2, periodMs: 60_000 } });
    await host.createAgent(Agent.fromPartial({ id: 'doomed', model: { provider: 'scripted', script: [{ events: [text('fine')] }] } }), '');
    const events = await collect(await host.sendMessage(send({ agentId: 'doomed', content: 'x' })));
    assert.equal(statusOf(events), TurnStatus.TURN_STATUS_FAILED);
    const error = events.find((e) => e.event?.$case === 'error');
    assert.ok(error && error.event?.$case === 'error' && /repeated crashes/.test(error.event.error.status?.message ?? ''));
    await assert.rejects(host.sendMessage(send({ agentId: 'doomed', content: 'again' })), (e: any) => e.code === 9 && e.reason === 'AGENT_FAILED');
    broken = false;
    await host.updateAgent(Agent.fromPartial({ id: 'doomed', displayName: 'fixed' }), ['display_name'], undefined, '');
    const after = await collect(await host.sendMessage(send({ agentId: 'doomed', content: 'again' })));
    assert.equal(statusOf(after), TurnStatus.TURN_STATUS_COMPLETED);
  });

  it('resumes an unfinished turn in a new host: a tool with a recorded result is not run again', async () => {
    const first = newHost();
    await first.createAgent(Agent.fromPartial({ id: 'worker', tools: [{ name: 'quick' }, { name: 'slowpoke' }], model: { provider: 'scripted', script: [{ events: [call('quick', {}), call('slowpoke', {})] }, { events: [text('all done')] }] } }), '');
    const stream = await first.sendMessage(send({ agentId: 'worker', content: 'work', threadId: 'durable' }));
    const seen: ThreadEvent[] = [];
    const reading = collect(stream, (e) => seen.push(e));
    await until('the quick tool to complete', () => seen.some((e) => e.event?.$case === 'toolCallCompleted'), 20_000);
    await first.stop(); // as if the process died: the checkpoint stays as it was
    stream.close();
    await reading;
    const lastSeen = seen.at(-1)!.sequence;
    const second = newHost();
    await second.start();
    const watch = collect(await second.watchThread({ threadId: 'durable', afterSequence: lastSeen, follow: false }));
    await until('slowpoke to run again', () => tools.invocations.filter((i) => i.name === 'slowpoke').length === 2, 20_000);
    slowRelease!();
    const rest = await watch;
    assert.equal(statusOf(rest), TurnStatus.TURN_STATUS_COMPLETED);
    assert.ok(rest.every((e) => e.sequence > lastSeen));
    assert.equal(tools.invocations.filter((i) => i.name === 'quick').length, 1, 'quick ran exactly once');
    const history = memory.threads.get('durable')!.messages;
    assert.deepEqual(history.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT, Role.ROLE_TOOL, Role.ROLE_TOOL, Role.ROLE_ASSISTANT]);
    assert.equal(new Set(history.map((m) => m.id)).size, history.length);
  });

  it('pauses a destructive tool for approval, across a restart, and runs it once approved', async () => {
    const first = newHost();
    await first.createAgent(Agent.fromPartial({ id: 'admin', tools: [{ name: 'rm' }], model: { provider: 'scripted', script: [{ events: [call('rm', { path: '/tmp/x' })] }, { events: [text('removed')] }] } }), '');
    const seen: ThreadEvent[] = [];
    const stream = await first.sendMessage(send({ agentId: 'admin', content: 'delete it', threadId: 'appr' }));
    const reading = collect(stream, (e) => seen.push(e));
    await until('approval_required', () => seen.some((e) => e.event?.$case === 'approvalRequired'), 20_000);
    const info = await first.getThread('appr');
    assert.equal(info.currentTurnStatus, TurnStatus.TURN_STATUS_AWAITING_APPROVAL);
    assert.equal(info.pendingApprovals.length, 1);
    await first.stop();
    stream.close();
    await reading;
    const second = newHost();
    await second.start();
    const pending = (await second.getThread('appr')).pendingApprovals;
    assert.equal(pending.length, 1, 'the approval survived the restart');
    assert.equal(tools.invocations.length, 0);
    const watch = collect(await second.watchThread({ threadId: 'appr', afterSequence: seen.at(-1)!.sequence, follow: false }));
    const resolution = await second.resolveApproval({ threadId: 'appr', approvalId: pending[0].approvalId, approve: true, reason: 'ok', requestId: '' });
    assert.equal(resolution.approved, true);
    const rest = await watch;
    assert.deepEqual(kinds(rest).filter((k) => k !== 'textDelta'), ['approvalResolved', 'toolCallCompleted', 'messageCompleted', 'turnCompleted']);
    assert.deepEqual(tools.invocations.map((i) => i.name), ['rm']);
  });

  it('gives a denial to the model as the tool result and asks for permissions the agent lacks', async () => {
    const host = newHost();
    await host.createAgent(Agent.fromPartial({ id: 'net', tools: [{ name: 'fetcher' }], model: { provider: 'scripted', script: [{ events: [call('fetcher', {})] }, { events: [text('ok')] }] } }), '');
    const seen: ThreadEvent[] = [];
    const reading = collect(await host.sendMessage(send({ agentId: 'net', content: 'fetch', threadId: 'deny' })), (e) => seen.push(e));
    await until('approval_required', () => seen.some((e) => e.event?.$case === 'approvalRequired'), 20_000);
    const required = seen.find((e) => e.event?.$case === 'approvalRequired')!;
    assert.match((required.event as any).approvalRequired.reason, /network host api\.example\.com/);
    await host.resolveApproval({ threadId: 'deny', approvalId: (required.event as any).approvalRequired.approvalId, approve: false, reason: 'not today', requestId: '' });
    const events = await reading;
    const completed = events.find((e) => e.event?.$case === 'toolCallCompleted')!;
    assert.match((completed.event as any).toolCallCompleted.error.message, /denied.*not today/);
    assert.equal(tools.invocations.length, 0);
    await assert.rejects(host.resolveApproval({ threadId: 'deny', approvalId: (required.event as any).approvalRequired.approvalId, approve: true, reason: '', requestId: '' }), (e: any) => e.code === 5);
  });

  it('runs an approved call with the tool’s own grant, other calls narrowed to the agent’s permissions', async () => {
    const host = newHost();
    await host.createAgent(Agent.fromPartial({ id: 'net2', permissions: { networkHosts: ['docs.example.com'] }, tools: [{ name: 'fetcher' }, { name: 'quick' }], model: { provider: 'scripted', script: [{ events: [call('fetcher', {}), call('quick', {})] }, { events: [text('ok')] }] } }), '');
    const seen: ThreadEvent[] = [];
    const reading = collect(await host.sendMessage(send({ agentId: 'net2', content: 'fetch', threadId: 'grant' })), (e) => seen.push(e));
    await until('approval_required', () => seen.some((e) => e.event?.$case === 'approvalRequired'), 20_000);
    const required = (seen.find((e) => e.event?.$case === 'approvalRequired')!.event as any).approvalRequired;
    await host.resolveApproval({ threadId: 'grant', approvalId: required.approvalId, approve: true, reason: '', requestId: '' });
    assert.equal(statusOf(await reading), TurnStatus.TURN_STATUS_COMPLETED);
    const byName = Object.fromEntries(tools.invocations.map((i) => [i.name, i]));
    assert.equal(byName.fetcher.grants, undefined);
    assert.deepEqual(byName.quick.grants, { networkHosts: ['docs.example.com'], secrets: [] });
  });

  it('hibernates idle actors and rehydrates them with their history', async () => {
    const host = newHost({ actor: { idleHibernateMs: 30 } });
    await host.createAgent(Agent.fromPartial({ id: 'sleepy', model: { provider: 'scripted', script: [{ events: [text('hi')] }] } }), '');
    await collect(await host.sendMessage(send({ agentId: 'sleepy', content: 'one', threadId: 'nap' })));
    await until('the actor to hibernate', () => host.stats().residentAgents === 0, 20_000);
    const reads = memory.calls.listMessages ?? 0;
    const again = await collect(await host.sendMessage(send({ agentId: 'sleepy', content: 'two', threadId: 'nap' })));
    assert.equal(statusOf(again), TurnStatus.TURN_STATUS_COMPLETED);
    assert.equal((memory.calls.listMessages ?? 0) - reads, 1, 'history was loaded once on rehydration');
    assert.equal(memory.threads.get('nap')!.messages.length, 4);
    const turnStarted = again.find((e) => e.event?.$case === 'turnStarted')!;
    assert.ok(turnStarted.sequence > 4, 'sequence numbers continue across hibernation');
  });

  it('stops the stale owner with ABORTED when a second host wrote the thread', async () => {
    const a = newHost();
    const b = newHost();
    await a.createAgent(Agent.fromPartial({ id: 'shared', model: { provider: 'scripted', script: [{ events: [text('x')] }] } }), '');
    await collect(await a.sendMessage(send({ agentId: 'shared', content: '1', threadId: 'split' })));
    await collect(await b.sendMessage(send({ agentId: 'shared', content: '2', threadId: 'split' })));
    const stale = await a.sendMessage(send({ agentId: 'shared', content: '3', threadId: 'split' }));
    await assert.rejects(collect(stale), (e: any) => e.code === 10);
    assert.equal(memory.threads.get('split')!.messages.length, 4, 'the stale owner wrote nothing');
    assert.equal(a.supervisor.resident('shared'), undefined);
  });

  it('keeps a slow client bounded while the model streams fast, coalescing without dropping', async () => {
    const host = newHost({ streamHighWaterBytes: 32 * 1024 });
    const chunk = 'x'.repeat(1023) + '\n';
    const body = chunk.repeat(900);
    await host.createAgent(Agent.fromPartial({ id: 'firehose', model: { provider: 'scripted', script: [{ events: [text(body, 1024)] }] } }), '');
    const stream = await host.sendMessage(send({ agentId: 'firehose', content: 'talk' }));
    let received = '';
    let deltas = 0;
    for await (const e of stream) {
      if (e.event?.$case === 'textDelta') {
        received += e.event.textDelta.text;
        deltas += 1;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    assert.equal(received, body, 'every character arrived, in order');
    assert.ok(deltas < 900, `deltas were coalesced (${deltas} events for 900 chunks)`);
    assert.ok(stream.subscriber.maxBufferedBytes < 32 * 1024 + 8 * 1024, `buffer peaked at ${stream.subscriber.maxBufferedBytes} bytes`);
  });
});
