import assert from 'node:assert/strict';
import { Agent, SendMessageRequest, TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { until } from '@elixirchain/runtime';
import { AgentHost } from '../src/host/agent-host.js';
import { InProcessMemory } from '../src/ports/in-process-memory.js';
import { InProcessToolRunner } from '../src/ports/in-process-tool-runner.js';
import { decodeThreadRecord } from '../src/threads/thread-record.js';
import { agentClient, collectEvents, startMesh, type Mesh } from './mesh-fixture.js';

const slowWords = (n: number, delayMs: number) =>
  Array.from({ length: n }, (_, i) => ({ chunkSize: 0, delay: { seconds: 0, nanos: delayMs * 1e6 }, event: { $case: 'text' as const, text: `w${i} ` } }));

describe('queued messages are durable once the client is told turn_queued', function () {
  this.timeout(120_000);

  it('writes the mailbox before turn_queued, one write for a burst of acceptances', async () => {
    const memory = new InProcessMemory();
    const host = new AgentHost({ memory, tools: new InProcessToolRunner([]) });
    try {
      await host.createAgent(Agent.fromPartial({ id: 'slow', model: { provider: 'scripted', script: [{ events: slowWords(15, 50) }] } }), '');
      const first = await host.sendMessage(SendMessageRequest.fromPartial({ agentId: 'slow', content: 'first', threadId: 'burst' }));
      const firstDone = collectEvents((async function* () { for await (const event of first) yield { event }; })());
      await until('the first turn to stream', () => host.hub.get('burst')!.lastSequence > 2, 30_000);
      const writesBefore = memory.calls.batchWrite ?? 0;
      // Three messages accepted at once while the thread is busy.
      const queued = await Promise.all(['second', 'third', 'fourth'].map((content) => host.sendMessage(SendMessageRequest.fromPartial({ agentId: 'slow', content, threadId: 'burst' }))));
      const acceptanceWrites = (memory.calls.batchWrite ?? 0) - writesBefore;
      assert.ok(acceptanceWrites >= 1 && acceptanceWrites <= 2, `a burst of acceptances shares its write (${acceptanceWrites} writes)`);
      const record = decodeThreadRecord((await memory.getState('threads/burst'))!.value)!;
      assert.deepEqual(record.queue.map((q: { content: string }) => q.content), ['second', 'third', 'fourth'], 'the mailbox is durable when sendMessage returns');
      const all = await Promise.all(queued.map((s) => collectEvents((async function* () { for await (const event of s) yield { event }; })())));
      await firstDone;
      for (const events of all) {
        assert.equal(events[0].event?.$case, 'turnQueued');
        assert.equal((events.at(-1)!.event as any).turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
      }
      const users = memory.threads.get('burst')!.messages.filter((m) => m.role === Role.ROLE_USER).map((m) => m.content);
      assert.deepEqual(users, ['first', 'second', 'third', 'fourth']);
    } finally {
      await host.stop();
    }
  });

  describe('with a real agent-host process killed (SIGKILL)', () => {
    let mesh: Mesh;
    const spawnHost = () => mesh.spawnAgentHost();

    before(async () => {
      mesh = await startMesh();
    });
    after(async () => {
      await mesh?.stop();
    });

    it('two messages queued behind a slow turn survive kill -9: after restart all three turns complete in order, once each', async () => {
      const first = await spawnHost();
      const client = agentClient(first.address);
      await client.createAgent({ agent: { id: 'queue-keeper', model: { provider: 'scripted', script: [{ events: slowWords(30, 100) }] } } });
      const seen: ThreadEvent[] = [];
      const running = collectEvents(client.sendMessage({ agentId: 'queue-keeper', content: 'message A', threadId: 'queued-thread' }), (e) => seen.push(e)).catch((e) => e);
      await until('turn A to stream', () => seen.some((e) => e.event?.$case === 'textDelta'), 30_000);
      const queuedEvents: ThreadEvent[][] = [[], []];
      const queuedStreams: Array<Promise<unknown>> = [];
      for (const [i, content] of ['message B', 'message C'].entries()) {
        queuedStreams.push(collectEvents(client.sendMessage({ agentId: 'queue-keeper', content, threadId: 'queued-thread' }), (e) => queuedEvents[i].push(e)).catch((e) => e));
        // B is acknowledged before C is sent, so the mailbox order is known.
        await until(`${content} to be acknowledged as queued`, () => queuedEvents[i].some((e) => e.event?.$case === 'turnQueued'), 30_000);
      }
      assert.ok(!seen.some((e) => e.event?.$case === 'turnCompleted'), 'turn A is still running');
      await first.kill();
      await Promise.all([running, ...queuedStreams]);
      client.close();

      const second = await spawnHost();
      const again = agentClient(second.address);
      const watched = await collectEvents(again.watchThread({ threadId: 'queued-thread', afterSequence: 0 }));
      const completed = watched.filter((e) => e.event?.$case === 'turnCompleted');
      assert.equal(completed.length, 3, `three turns completed: ${watched.map((e) => e.event?.$case).join(',')}`);
      assert.ok(completed.every((e) => (e.event as any).turnCompleted.status === TurnStatus.TURN_STATUS_COMPLETED));
      const sequences = watched.map((e) => e.sequence);
      assert.deepEqual(sequences, [...new Set(sequences)].sort((a, b) => a - b), 'increasing, no repeats');
      const started = watched.filter((e) => e.event?.$case === 'turnStarted').map((e) => e.turnId);
      assert.equal(new Set(started).size, started.length, 'no turn started twice');

      const { messages } = await again.listMessages({ threadId: 'queued-thread', pageSize: 100 });
      assert.deepEqual(messages.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT, Role.ROLE_USER, Role.ROLE_ASSISTANT, Role.ROLE_USER, Role.ROLE_ASSISTANT]);
      assert.deepEqual(messages.filter((m) => m.role === Role.ROLE_USER).map((m) => m.content), ['message A', 'message B', 'message C']);
      assert.ok(messages.filter((m) => m.role === Role.ROLE_ASSISTANT).every((m) => m.content === slowWords(30, 0).map((w) => w.event.text).join('')));
      assert.equal(new Set(messages.map((m) => m.id)).size, messages.length, 'no duplicate message');
      // The turn ids the first process acknowledged are the ones that ran.
      const queuedIds = queuedEvents.map((events) => events.find((e) => e.event?.$case === 'turnQueued')!.turnId);
      assert.deepEqual(completed.map((e) => e.turnId).slice(1), queuedIds);
      const info = await again.getThread({ threadId: 'queued-thread' });
      assert.equal(info.thread?.currentTurnId, '');
      assert.equal(info.thread?.queuedTurns, 0);
      again.close();
    });
  });
});
