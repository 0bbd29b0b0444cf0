import assert from 'node:assert/strict';
import { Agent, SendMessageRequest, TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { ListMessagesRequest, Role } from '@elixirchain/proto/memory';
import { errors, until } from '@elixirchain/runtime';
import { AgentHost } from '../src/host/agent-host.js';
import { InProcessMemory } from '../src/ports/in-process-memory.js';
import { InProcessToolRunner } from '../src/ports/in-process-tool-runner.js';
import type { MemoryPort } from '../src/ports/memory-port.js';

/** In-process memory that answers UNAVAILABLE to everything while `down`. */
function flakyMemory() {
  const inner = new InProcessMemory();
  const state = { down: false };
  const port = new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (state.down ? Promise.reject(errors.unavailable('MEMORY_DOWN', 'memory is down')) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  }) as MemoryPort;
  return { port, state };
}

// Memory away for longer than a checkpoint waits: the agent is not marked
// failed for it (that would need memory too, and an update to undo); its
// turn resumes and finishes once memory is back, and new messages work.
describe('agent-host when an outage of memory outlasts the checkpoint retries', function () {
  this.timeout(60_000);
  let host: AgentHost | undefined;
  after(async () => host?.stop());

  it('keeps the agent and its turn, and resumes the turn once memory answers again', async () => {
    const memory = flakyMemory();
    const tools = new InProcessToolRunner([{ name: 'sleepy', run: () => new Promise((r) => setTimeout(() => r({ slept: true }), 300)) }]);
    host = new AgentHost({ memory: memory.port, tools, actor: { memoryOutageBudgetMs: 300 } });
    await host.createAgent(
      Agent.fromPartial({
        id: 'patient',
        tools: [{ name: 'sleepy' }],
        model: { provider: 'scripted', script: [{ events: [{ chunkSize: 0, event: { $case: 'toolCall', toolCall: { name: 'sleepy', arguments: {}, id: '' } } }] }, { events: [{ chunkSize: 0, event: { $case: 'text', text: 'rested' } }] }] },
      }),
      '',
    );
    const seen: ThreadEvent[] = [];
    const stream = await host.sendMessage(SendMessageRequest.fromPartial({ agentId: 'patient', content: 'nap', threadId: 'outlasted' }));
    const reading = (async () => {
      for await (const e of stream) {
        seen.push(e);
        if (e.event?.$case === 'toolCallStarted') memory.state.down = true;
      }
    })().catch(() => undefined);
    await until('the tool call to start', () => memory.state.down, 30_000);
    // Long enough for the tool to finish, its checkpoint and the failure's to give up, and the restarts to run out.
    await new Promise((r) => setTimeout(r, 3000));
    memory.state.down = false;
    await until('the turn to finish once memory is back', async () => (await host!.getThread('outlasted')).currentTurnId === '', 30_000);
    const { messages } = await host.listMessages(ListMessagesRequest.fromPartial({ threadId: 'outlasted', pageSize: 100 }));
    assert.deepEqual(messages.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT, Role.ROLE_TOOL, Role.ROLE_ASSISTANT]);
    assert.equal(messages.at(-1)?.content, 'rested');
    assert.ok(!seen.some((e) => e.event?.$case === 'turnCompleted' && e.event.turnCompleted.status === TurnStatus.TURN_STATUS_FAILED), 'the turn was not failed');
    // Not stopped for good: the next message is served.
    const next: ThreadEvent[] = [];
    for await (const e of await host.sendMessage(SendMessageRequest.fromPartial({ agentId: 'patient', content: 'again', threadId: 'after-outage' }))) next.push(e);
    const last = next.at(-1)?.event;
    assert.equal(last?.$case === 'turnCompleted' && last.turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
    await Promise.race([reading, new Promise((r) => setTimeout(r, 1000))]);
  });
});
