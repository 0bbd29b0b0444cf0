import assert from 'node:assert/strict';
import { TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { until } from '@elixirchain/runtime';
import { agentClient, collectEvents, startMesh, type Mesh } from './mesh-fixture.js';


describe('agent-host process killed (SIGKILL) or drained (SIGTERM) mid-turn', function () {
  this.timeout(120_000);
  let mesh: Mesh;
  const spawnHost = () => mesh.spawnAgentHost();

  before(async () => {
    mesh = await startMesh();
    await mesh.registerTool('quick', 'export default async function () { return { quick: true }; }');
    await mesh.registerTool('slow', 'export default async function (input) { await new Promise((r) => setTimeout(r, input.ms)); return { slept: input.ms }; }', {
      inputSchema: { type: 'object', properties: { ms: { type: 'number' } }, required: ['ms'] },
    });
  });
  after(async () => {
    await mesh?.stop();
  });

  it('resumes from the last checkpoint: WatchThread gets the rest, the recorded tool ran once, history has no duplicates', async () => {
    const first = await spawnHost();
    const client = agentClient(first.address);
    await client.createAgent({
      agent: {
        id: 'survivor',
        tools: [{ name: 'quick' }, { name: 'slow' }],
        model: {
          provider: 'scripted',
          script: [
            { events: [{ chunkSize: 0, event: { $case: 'toolCall', toolCall: { name: 'quick', arguments: {}, id: '' } } }, { chunkSize: 0, event: { $case: 'toolCall', toolCall: { name: 'slow', arguments: { ms: 3000 }, id: '' } } }] },
            { events: [{ chunkSize: 5, event: { $case: 'text', text: 'Both tools are done.' } }] },
          ],
        },
      },
    });
    const seen: ThreadEvent[] = [];
    const reading = collectEvents(client.sendMessage({ agentId: 'survivor', content: 'run both', threadId: 'kill-thread' }), (e) => seen.push(e)).catch((e) => e);
    await until('the quick tool to be recorded', () => seen.some((e) => e.event?.$case === 'toolCallCompleted'), 30_000);
    assert.equal((seen.find((e) => e.event?.$case === 'toolCallCompleted')!.event as any).toolCallCompleted.toolName, 'quick');
    await first.kill();
    const cut = await reading;
    assert.ok(cut instanceof Error, 'the client’s stream broke with the process');
    client.close();
    const lastSeen = seen.at(-1)!.sequence;

    const second = await spawnHost();
    const again = agentClient(second.address);
    const rest = await collectEvents(again.watchThread({ threadId: 'kill-thread', afterSequence: lastSeen }));
    assert.equal(rest.at(-1)?.event?.$case, 'turnCompleted');
    assert.equal((rest.at(-1)!.event as any).turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
    assert.ok(rest.every((e) => e.sequence > lastSeen));
    const completions = rest.filter((e) => e.event?.$case === 'toolCallCompleted').map((e) => (e.event as any).toolCallCompleted);
    assert.deepEqual(completions.map((c) => c.toolName), ['slow']);
    assert.deepEqual(completions[0].result, { slept: 3000 });
    assert.equal(mesh.runs.get('quick'), 1, 'the tool with a recorded result ran exactly once');
    const { messages } = await again.listMessages({ threadId: 'kill-thread', pageSize: 100 });
    assert.deepEqual(messages.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT, Role.ROLE_TOOL, Role.ROLE_TOOL, Role.ROLE_ASSISTANT]);
    assert.equal(new Set(messages.map((m) => m.id)).size, messages.length);
    assert.equal(messages.at(-1)?.content, 'Both tools are done.');
    const info = await again.getThread({ threadId: 'kill-thread' });
    assert.equal(info.thread?.currentTurnId, '');
    again.close();
  });

  it('drains on SIGTERM: what the client saw is persisted, and the turn finishes in the next process', async () => {
    const first = await spawnHost();
    const client = agentClient(first.address);
    const words = Array.from({ length: 30 }, (_, i) => `w${i} `);
    await client.createAgent({
      agent: { id: 'drained', model: { provider: 'scripted', script: [{ events: words.map((w) => ({ chunkSize: 0, delay: { seconds: 0, nanos: 100e6 }, event: { $case: 'text' as const, text: w } })) }] } },
    });
    const seen: ThreadEvent[] = [];
    const reading = collectEvents(client.sendMessage({ agentId: 'drained', content: 'talk slowly', threadId: 'drain-thread' }), (e) => seen.push(e)).catch((e) => e);
    await until('a few deltas', () => seen.filter((e) => e.event?.$case === 'textDelta').length >= 5, 30_000);
    await first.stop();
    await reading;
    client.close();
    const lastSeen = seen.at(-1)!.sequence;

    const second = await spawnHost();
    const again = agentClient(second.address);
    const rest = await collectEvents(again.watchThread({ threadId: 'drain-thread', afterSequence: lastSeen }));
    assert.equal((rest.at(-1)!.event as any).turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
    const replayed = await collectEvents(again.watchThread({ threadId: 'drain-thread', afterSequence: 0 }));
    assert.deepEqual(
      replayed.filter((e) => e.sequence <= lastSeen).map((e) => e.sequence),
      seen.map((e) => e.sequence),
      'every event the client saw before the drain was persisted',
    );
    const { messages } = await again.listMessages({ threadId: 'drain-thread' });
    assert.deepEqual(messages.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT]);
    assert.equal(messages[1].content, words.join(''));
    again.close();
  });
});
