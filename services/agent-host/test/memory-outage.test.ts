import assert from 'node:assert/strict';
import { TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { errors, until } from '@elixirchain/runtime';
import { startMemoryServer } from '@elixirchain/memory';
import { startAgentHostServer, GrpcMemoryPort, type AgentHostServer } from '../src/index.js';
import { ThreadStore } from '../src/threads/thread-store.js';
import { newThreadRecord } from '../src/threads/thread-record.js';
import type { MemoryPort } from '../src/ports/memory-port.js';
import { agentClient, collectEvents, startMesh, type Mesh } from './mesh-fixture.js';

// Memory going away mid-turn (killed, restarted by its launcher) is an
// outage to wait out, not a crash of the agent: checkpoints are retried with
// the same request_id and the turn finishes once memory is back.
describe('agent-host through an outage of memory', function () {
  this.timeout(120_000);
  let mesh: Mesh;
  let host: AgentHostServer | undefined;

  before(async () => {
    mesh = await startMesh();
    await mesh.registerTool('slow', 'export default async function (input) { await new Promise((r) => setTimeout(r, input.ms)); return { slept: input.ms }; }', {
      inputSchema: { type: 'object', properties: { ms: { type: 'number' } }, required: ['ms'] },
    });
  });
  after(async () => {
    await host?.stop();
    await mesh?.stop();
  });

  it('a checkpoint whose reply was lost is retried with the same request_id and replays instead of failing its compare-and-set', async () => {
    const grpcMemory = new GrpcMemoryPort(mesh.memory.address);
    let lost = 0;
    // Commits the first batch, then loses its reply the way a killed connection does.
    const lossy: MemoryPort = Object.assign(Object.create(grpcMemory) as GrpcMemoryPort, {
      batchWrite: async (request: Parameters<MemoryPort['batchWrite']>[0]) => {
        const response = await grpcMemory.batchWrite(request);
        if (lost++ === 0) throw errors.unavailable('CONNECTION_DROPPED', 'the reply was lost');
        return response;
      },
    });
    try {
      const store = new ThreadStore(lossy, undefined, 10_000);
      const record = newThreadRecord('lost-reply', 'a');
      const result = await store.checkpoint({ record, stateVersion: 0, messages: [{ id: 'm1', threadId: 'lost-reply', role: Role.ROLE_USER, content: 'once' }], indexThread: true });
      assert.equal(lost, 2, 'the batch was sent twice');
      assert.equal(result.stateVersion, 1);
      assert.deepEqual(result.messages.map((m) => m.content), ['once']);
      const history = await store.loadHistory('lost-reply');
      assert.deepEqual(history.map((m) => m.content), ['once'], 'appended once');
    } finally {
      grpcMemory.close();
    }
  });

  it('memory stopped during a tool call and started again: the turn completes, nothing lost or doubled', async () => {
    host = await startAgentHostServer({ address: '127.0.0.1:0', memoryAddress: mesh.memory.address, toolSandboxAddress: mesh.sandbox.address, restartIntensity: { maxRestarts: 1, periodMs: 60_000 } });
    const client = agentClient(host.address);
    try {
      await client.createAgent({
        agent: {
          id: 'outage',
          tools: [{ name: 'slow' }],
          model: {
            provider: 'scripted',
            script: [
              { events: [{ chunkSize: 0, event: { $case: 'toolCall', toolCall: { name: 'slow', arguments: { ms: 1500 }, id: '' } } }] },
              { events: [{ chunkSize: 0, event: { $case: 'text', text: 'Slept well.' } }] },
            ],
          },
        },
      });
      const address = mesh.memory.address;
      let stopped: Promise<void> | undefined;
      const seen: ThreadEvent[] = [];
      const events = collectEvents(client.sendMessage({ agentId: 'outage', content: 'sleep', threadId: 'outage-thread' }), (e) => {
        seen.push(e);
        if (!stopped && e.event?.$case === 'toolCallStarted') stopped = mesh.memory.stop();
      });
      await until('the tool call to start', () => stopped !== undefined, 30_000);
      await stopped;
      // Down for longer than the tool runs, so its result's checkpoint meets the outage.
      await new Promise((r) => setTimeout(r, 4000));
      mesh.memory = await startMemoryServer({ address, dataDir: mesh.dataDir });
      const all = await events;
      const last = all.at(-1)?.event;
      assert.equal(last?.$case, 'turnCompleted');
      assert.equal(last.$case === 'turnCompleted' && last.turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED, JSON.stringify(all.filter((e) => e.event?.$case === 'error')));
      const { messages } = await client.listMessages({ threadId: 'outage-thread', pageSize: 100 });
      assert.deepEqual(messages.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT, Role.ROLE_TOOL, Role.ROLE_ASSISTANT]);
      assert.equal(messages.at(-1)?.content, 'Slept well.');
      const thread = await client.getThread({ threadId: 'outage-thread' });
      assert.equal(thread.thread?.currentTurnId, '', 'no turn left running');
      // The agent was not stopped: the next message works.
      const next = await collectEvents(client.sendMessage({ agentId: 'outage', content: 'again', threadId: 'outage-thread-2' }));
      assert.equal(next.at(-1)?.event?.$case, 'turnCompleted');
    } finally {
      client.close();
    }
  });
});
