import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { AgentServiceClient, OnBusy, SendMessageRequest, SendMessageResponse, TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { until } from '@elixirchain/runtime';
import { startAgentHostServer, type AgentHostServer } from '../src/index.js';
import { agentClient, collectEvents, startMesh, type Mesh } from './mesh-fixture.js';

const text = (t: string, chunkSize = 0, delayMs = 0) => ({ chunkSize, event: { $case: 'text' as const, text: t }, ...(delayMs ? { delay: { seconds: Math.floor(delayMs / 1000), nanos: (delayMs % 1000) * 1e6 } } : {}) });
const call = (name: string, args: Record<string, unknown>) => ({ chunkSize: 0, event: { $case: 'toolCall' as const, toolCall: { name, arguments: args, id: '' } } });
const crash = (message: string) => ({ chunkSize: 0, event: { $case: 'error' as const, error: { httpStatus: 0, message } } });
const statusOf = (events: ThreadEvent[]) => {
  const last = events.at(-1);
  return last?.event?.$case === 'turnCompleted' ? last.event.turnCompleted.status : undefined;
};
const textOf = (events: ThreadEvent[]) => events.map((e) => (e.event?.$case === 'textDelta' ? e.event.textDelta.text : '')).join('');

describe('agent-host over gRPC with real memory and tool-sandbox', function () {
  this.timeout(90_000);
  let mesh: Mesh;
  let host: AgentHostServer;
  let client: ReturnType<typeof agentClient>;

  before(async () => {
    mesh = await startMesh();
    await mesh.registerTool('add', 'export default async function (input) { return { sum: input.a + input.b }; }', {
      inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
    });
    await mesh.registerTool('upper', 'export default async function (input) { return { upper: String(input.text).toUpperCase() }; }', {
      inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
    });
    await mesh.registerTool('wipe', 'export default async function (input) { return { wiped: input.path }; }', {
      inputSchema: { type: 'object', properties: { path: { type: 'string' } } },
      annotations: { destructive: true, readOnly: false, idempotent: false, openWorld: false },
    });
    host = await startAgentHostServer({ address: '127.0.0.1:0', memoryAddress: mesh.memory.address, toolSandboxAddress: mesh.sandbox.address });
    client = agentClient(host.address);
  });
  after(async () => {
    client?.close();
    await host?.stop();
    await mesh?.stop();
  });

  it('validates agent definitions with INVALID_ARGUMENT naming the fields, and versions updates', async () => {
    await assert.rejects(client.createAgent({ agent: { id: 'Bad Id', tools: [{ name: '9x' }], limits: { mailboxCapacity: -1 } } }), (e: any) => {
      assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
      assert.deepEqual(e.fieldViolations.map((v: any) => v.field).sort(), ['agent.id', 'agent.limits.mailbox_capacity', 'agent.tools[0].name']);
      return true;
    });
    const { agent } = await client.createAgent({ agent: { id: 'versioned', instructions: 'v1' } });
    assert.equal(agent?.version, 1);
    await assert.rejects(client.createAgent({ agent: { id: 'versioned' } }), (e: any) => e.code === grpc.status.ALREADY_EXISTS);
    const updated = await client.updateAgent({ agent: { id: 'versioned', instructions: 'v2', displayName: 'ignored' }, updateMask: ['instructions'] });
    assert.equal(updated.agent?.version, 2);
    assert.equal(updated.agent?.instructions, 'v2');
    assert.equal(updated.agent?.displayName, '');
    assert.equal((await client.getAgent({ id: 'versioned', version: 1 })).agent?.instructions, 'v1');
    await assert.rejects(client.updateAgent({ agent: { id: 'versioned' }, expectedVersion: 1 }), (e: any) => e.code === grpc.status.ABORTED);
    await assert.rejects(client.updateAgent({ agent: { id: 'versioned' }, updateMask: ['version'] }), (e: any) => e.code === grpc.status.INVALID_ARGUMENT && e.fieldViolations[0].field === 'update_mask.paths[0]');
    const listed = await client.listAgents({ pageSize: 100 });
    assert.ok(listed.agents.some((a) => a.id === 'versioned'));
    assert.equal((await client.deleteAgent({ id: 'versioned' })).deleted, true);
    await assert.rejects(client.getAgent({ id: 'versioned' }), (e: any) => e.code === grpc.status.NOT_FOUND);
    await assert.rejects(client.sendMessage({ agentId: 'nobody', content: 'hi' })[Symbol.asyncIterator]().next(), (e: any) => e.code === grpc.status.NOT_FOUND);
  });

  it('streams a turn with two tool calls in order, results recorded in the thread', async () => {
    await client.createAgent({
      agent: { id: 'two-tools', tools: [{ name: 'add' }, { name: 'upper' }], model: { provider: 'scripted', script: [{ events: [text('Let me see. '), call('add', { a: 2, b: 3 }), call('upper', { text: 'done' })] }, { events: [text('2 + 3 = 5, DONE', 3)] }] } },
    });
    const events = await collectEvents(client.sendMessage({ agentId: 'two-tools', content: 'add 2 and 3, shout done' }));
    const sequences = events.map((e) => e.sequence);
    assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b));
    assert.equal(new Set(sequences).size, sequences.length);
    const order = events.map((e) => e.event?.$case).filter((k) => k !== 'textDelta');
    assert.deepEqual(order.slice(0, 3), ['turnStarted', 'toolCallStarted', 'toolCallStarted']);
    assert.deepEqual(order.slice(3, 5).sort(), ['toolCallCompleted', 'toolCallCompleted']);
    assert.deepEqual(order.slice(5), ['messageCompleted', 'turnCompleted']);
    const completions = events.filter((e) => e.event?.$case === 'toolCallCompleted').map((e) => (e.event as any).toolCallCompleted);
    assert.deepEqual(completions.map((c) => c.error?.message), [undefined, undefined], 'both tools succeeded');
    const results = completions.map((c) => c.result);
    assert.deepEqual(results.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [{ sum: 5 }, { upper: 'DONE' }]);
    assert.equal(textOf(events), 'Let me see. 2 + 3 = 5, DONE');
    const completed = events.at(-1)!.event as any;
    assert.equal(completed.turnCompleted.usage.toolCalls, 2);
    assert.equal(completed.turnCompleted.usage.modelCalls, 2);
    const { messages } = await client.listMessages({ threadId: events[0].threadId });
    assert.deepEqual(messages.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT, Role.ROLE_TOOL, Role.ROLE_TOOL, Role.ROLE_ASSISTANT]);
    const { threads } = await client.listThreads({ agentId: 'two-tools' });
    assert.deepEqual(threads.map((t) => [t.threadId, t.messageCount, t.lastSequence]), [[events[0].threadId, 5, events.at(-1)!.sequence]]);
    const watched = await collectEvents(client.watchThread({ threadId: events[0].threadId, afterSequence: 0 }));
    assert.deepEqual(watched.map((e) => e.sequence), sequences, 'WatchThread replays the whole turn');
  });

  it('a throwing actor restarts without disturbing another agent’s concurrent turn', async () => {
    await client.createAgent({ agent: { id: 'calm', model: { provider: 'scripted', script: [{ events: [text('a ', 0, 150), text('b ', 0, 150), text('c', 0, 150)] }] } } });
    await client.createAgent({ agent: { id: 'throws', model: { provider: 'scripted', script: [{ events: [text('x ', 0, 100), crash('bug in actor'), text('y')] }] } } });
    const calm = collectEvents(client.sendMessage({ agentId: 'calm', content: 'go' }));
    const throws = await collectEvents(client.sendMessage({ agentId: 'throws', content: 'go' }));
    const calmEvents = await calm;
    assert.equal(statusOf(calmEvents), TurnStatus.TURN_STATUS_COMPLETED);
    assert.equal(textOf(calmEvents), 'a b c');
    assert.equal(statusOf(throws), TurnStatus.TURN_STATUS_COMPLETED);
    assert.ok(host.host.stats().restarts >= 1);
  });

  it('QUEUE waits its turn, REJECT fails with FAILED_PRECONDITION, INTERRUPT cuts the running turn', async () => {
    await client.createAgent({ agent: { id: 'busy', model: { provider: 'scripted', script: [{ events: [text('slow ', 0, 100), text('reply', 0, 1500)] }] } } });
    const firstEvents: ThreadEvent[] = [];
    const first = collectEvents(client.sendMessage({ agentId: 'busy', content: 'one', threadId: 'busy-thread' }), (e) => firstEvents.push(e));
    await until('the first turn to start', () => firstEvents.length > 0, 30_000);
    await assert.rejects(collectEvents(client.sendMessage({ agentId: 'busy', content: 'two', threadId: 'busy-thread', onBusy: OnBusy.ON_BUSY_REJECT })), (e: any) => e.code === grpc.status.FAILED_PRECONDITION && e.reason === 'THREAD_BUSY');
    const queued = await collectEvents(client.sendMessage({ agentId: 'busy', content: 'three', threadId: 'busy-thread', onBusy: OnBusy.ON_BUSY_QUEUE }));
    assert.equal(queued[0].event?.$case, 'turnQueued');
    assert.equal(statusOf(queued), TurnStatus.TURN_STATUS_COMPLETED);
    const firstDone = await first;
    assert.equal(statusOf(firstDone), TurnStatus.TURN_STATUS_COMPLETED);
    assert.ok(firstDone.at(-1)!.sequence < queued.find((e) => e.event?.$case === 'turnStarted')!.sequence, 'the queued turn started after the first ended');
    const cutEvents: ThreadEvent[] = [];
    const cut = collectEvents(client.sendMessage({ agentId: 'busy', content: 'four', threadId: 'busy-thread' }), (e) => cutEvents.push(e));
    await until('the turn to stream', () => cutEvents.some((e) => e.event?.$case === 'textDelta'), 30_000);
    const interrupting = await collectEvents(client.sendMessage({ agentId: 'busy', content: 'five', threadId: 'busy-thread', onBusy: OnBusy.ON_BUSY_INTERRUPT }));
    assert.equal(statusOf(await cut), TurnStatus.TURN_STATUS_INTERRUPTED);
    assert.equal(statusOf(interrupting), TurnStatus.TURN_STATUS_COMPLETED);
    const { messages } = await client.listMessages({ threadId: 'busy-thread', pageSize: 100 });
    const partial = messages.find((m) => m.metadata?.incomplete === true);
    assert.equal(partial?.content, 'slow ', 'the interrupted turn keeps what it said, marked incomplete');
  });

  it('a message sent with REJECT from the turn_completed handler finds the thread idle', async () => {
    // write_back keeps the finished turn busy with a memory RPC after turn_completed is released: the thread must already be idle.
    await client.createAgent({ agent: { id: 'prompt', memoryPolicy: { writeBack: true }, model: { provider: 'scripted', script: [{ events: [text('done')] }] } } });
    let next: Promise<ThreadEvent[]> | undefined;
    const first = await collectEvents(client.sendMessage({ agentId: 'prompt', content: 'one', threadId: 'prompt-thread' }), (e) => {
      if (e.event?.$case === 'turnCompleted') next = collectEvents(client.sendMessage({ agentId: 'prompt', content: 'two', threadId: 'prompt-thread', onBusy: OnBusy.ON_BUSY_REJECT }));
    });
    assert.equal(statusOf(first), TurnStatus.TURN_STATUS_COMPLETED);
    const second = await next!;
    assert.equal(second[0].event?.$case, 'turnStarted', 'started at once, not queued');
    assert.equal(statusOf(second), TurnStatus.TURN_STATUS_COMPLETED);
  });

  it('CancelTurn stops a running turn and records it cancelled', async () => {
    await client.createAgent({ agent: { id: 'cancellable', model: { provider: 'scripted', script: [{ events: [text('start ', 0, 50), text('never', 0, 5000)] }] } } });
    const seen: ThreadEvent[] = [];
    const turn = collectEvents(client.sendMessage({ agentId: 'cancellable', content: 'go', threadId: 'cancel-thread' }), (e) => seen.push(e));
    await until('text', () => seen.some((e) => e.event?.$case === 'textDelta'), 30_000);
    const res = await client.cancelTurn({ threadId: 'cancel-thread', reason: 'user pressed stop' });
    assert.equal(res.cancelled, true);
    assert.equal(statusOf(await turn), TurnStatus.TURN_STATUS_CANCELLED);
    const info = await client.getThread({ threadId: 'cancel-thread' });
    assert.equal(info.thread?.currentTurnId, '');
  });

  it('pauses a destructive tool for approval and resumes after a restart of agent-host', async () => {
    await client.createAgent({ agent: { id: 'careful', tools: [{ name: 'wipe' }], model: { provider: 'scripted', script: [{ events: [call('wipe', { path: '/data' })] }, { events: [text('wiped')] }] } } });
    const seen: ThreadEvent[] = [];
    const stream = client.sendMessage({ agentId: 'careful', content: 'wipe /data', threadId: 'approval-thread' });
    const reading = collectEvents(stream, (e) => seen.push(e)).catch(() => seen);
    await until('approval_required', () => seen.some((e) => e.event?.$case === 'approvalRequired'), 30_000);
    const required = (seen.find((e) => e.event?.$case === 'approvalRequired')!.event as any).approvalRequired;
    assert.match(required.reason, /destructive/);
    await host.stop();
    await reading;
    host = await startAgentHostServer({ address: '127.0.0.1:0', memoryAddress: mesh.memory.address, toolSandboxAddress: mesh.sandbox.address });
    client.close();
    client = agentClient(host.address);
    const info = await client.getThread({ threadId: 'approval-thread' });
    assert.equal(info.thread?.pendingApprovals[0]?.approvalId, required.approvalId);
    assert.equal(info.thread?.currentTurnStatus, TurnStatus.TURN_STATUS_AWAITING_APPROVAL);
    assert.equal(mesh.runs.get('wipe') ?? 0, 0);
    const rest = collectEvents(client.watchThread({ threadId: 'approval-thread', afterSequence: seen.at(-1)!.sequence }));
    const { resolution } = await client.resolveApproval({ threadId: 'approval-thread', approvalId: required.approvalId, approve: true });
    assert.equal(resolution?.approved, true);
    const events = await rest;
    assert.equal(statusOf(events), TurnStatus.TURN_STATUS_COMPLETED);
    assert.deepEqual((events.find((e) => e.event?.$case === 'toolCallCompleted')!.event as any).toolCallCompleted.result, { wiped: '/data' });
    assert.equal(mesh.runs.get('wipe'), 1);
  });

  it('a second agent-host that wrote the same thread makes the stale owner stop with ABORTED', async () => {
    await client.createAgent({ agent: { id: 'contested', model: { provider: 'scripted', script: [{ events: [text('ok')] }] } } });
    const other = await startAgentHostServer({ address: '127.0.0.1:0', memoryAddress: mesh.memory.address, toolSandboxAddress: mesh.sandbox.address });
    const otherClient = agentClient(other.address);
    try {
      assert.equal(statusOf(await collectEvents(client.sendMessage({ agentId: 'contested', content: '1', threadId: 'contested-thread' }))), TurnStatus.TURN_STATUS_COMPLETED);
      assert.equal(statusOf(await collectEvents(otherClient.sendMessage({ agentId: 'contested', content: '2', threadId: 'contested-thread' }))), TurnStatus.TURN_STATUS_COMPLETED);
      await assert.rejects(collectEvents(client.sendMessage({ agentId: 'contested', content: '3', threadId: 'contested-thread' })), (e: any) => e.code === grpc.status.ABORTED);
      const { messages } = await otherClient.listMessages({ threadId: 'contested-thread', pageSize: 100 });
      assert.deepEqual(messages.map((m) => m.content), ['1', 'ok', '2', 'ok'], 'the stale owner wrote nothing');
      assert.equal(host.host.supervisor.resident('contested'), undefined, 'the stale actor stopped');
    } finally {
      otherClient.close();
      await other.stop();
    }
  });

  it('keeps agent-host’s buffer bounded for a client that stops reading while the model streams fast', async () => {
    const chunk = 'y'.repeat(1023) + '\n';
    const body = chunk.repeat(900);
    await client.createAgent({ agent: { id: 'firehose', model: { provider: 'scripted', script: [{ events: [text(body, 1024)] }] } } });
    const tight = await startAgentHostServer({ address: '127.0.0.1:0', memoryAddress: mesh.memory.address, toolSandboxAddress: mesh.sandbox.address, streamHighWaterBytes: 64 * 1024 });
    const raw = new AgentServiceClient(tight.address, grpc.credentials.createInsecure());
    const call = raw.sendMessage(SendMessageRequest.fromPartial({ agentId: 'firehose', content: 'talk', threadId: 'firehose-thread' }));
    let received = '';
    let deltas = 0;
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (r: SendMessageResponse) => {
        if (r.event?.event?.$case === 'textDelta') {
          received += r.event.event.textDelta.text;
          deltas += 1;
        }
      });
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.pause();
    await new Promise((r) => setTimeout(r, 1500));
    const log = tight.host.hub.get('firehose-thread');
    const subscriber = [...(log?.subscribers ?? [])][0];
    assert.ok(subscriber, 'the stream is subscribed');
    const peak = subscriber.maxBufferedBytes;
    assert.ok(peak <= 1.1 * subscriber.highWaterBytes + 64 * 1024, `agent-host buffered at most ${peak} bytes for the paused client`);
    const turn = tight.host.supervisor.resident('firehose')?.residentSession('firehose-thread');
    assert.ok(turn?.runningTurnId, 'the turn is held back by the paused client instead of racing ahead');
    call.resume();
    await ended;
    raw.close();
    await tight.stop();
    assert.equal(received.length, body.length);
    assert.equal(received, body);
    assert.ok(deltas < 900, `coalesced into ${deltas} deltas`);
  });
});
