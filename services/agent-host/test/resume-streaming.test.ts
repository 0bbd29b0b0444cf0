import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, SendMessageRequest, WatchThreadRequest, type ThreadEvent } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { until } from '@elixirchain/runtime';
import { AgentHost } from '../src/host/agent-host.js';
import type { ModelEvent, ModelProvider } from '../src/model/model-provider.js';
import { InProcessMemory } from '../src/ports/in-process-memory.js';
import { InProcessToolRunner } from '../src/ports/in-process-tool-runner.js';
import { decodeThreadRecord } from '../src/threads/thread-record.js';

/** A model that streams the given chunks slowly. */
const slowModel = (chunks: string[]): ModelProvider => ({
  name: 'test-model',
  async *stream(_request, signal): AsyncIterable<readonly ModelEvent[]> {
    for (const text of chunks) {
      await sleep(15, undefined, { signal });
      yield [{ type: 'textDelta', text }];
    }
    yield [{ type: 'finish', reason: 'stop' }];
  },
});

const texts = (events: ThreadEvent[]) => events.flatMap((e) => (e.event?.$case === 'textDelta' ? [e.event.textDelta.text] : [])).join('');

async function drainMidStream(memory: InProcessMemory, chunks: string[]) {
  const host = new AgentHost({ memory, tools: new InProcessToolRunner([]), providerFor: () => slowModel(chunks) });
  await host.createAgent(Agent.fromPartial({ id: 'talker' }), '');
  const stream = await host.sendMessage(SendMessageRequest.fromPartial({ agentId: 'talker', content: 'talk', threadId: 'resumed' }));
  const seen: ThreadEvent[] = [];
  const reading = (async () => {
    for await (const e of stream) seen.push(e);
  })();
  await until('five deltas', () => seen.filter((e) => e.event?.$case === 'textDelta').length >= 5, 30_000);
  await host.stop();
  stream.close();
  await reading;
  return seen;
}

async function resumeAndWatch(memory: InProcessMemory, chunks: string[], afterSequence: number) {
  const host = new AgentHost({ memory, tools: new InProcessToolRunner([]), providerFor: () => slowModel(chunks) });
  await host.start();
  const rest: ThreadEvent[] = [];
  for await (const e of await host.watchThread(WatchThreadRequest.fromPartial({ threadId: 'resumed', afterSequence }))) rest.push(e);
  await host.stop();
  return rest;
}

describe('a turn resumed after a drain does not stream text twice', function () {
  this.timeout(30_000);
  const chunks = Array.from({ length: 20 }, (_, i) => `c${i} `);

  it('a model that answers the same again: the re-attached client gets only what it had not seen, sequences contiguous', async () => {
    const memory = new InProcessMemory();
    const seen = await drainMidStream(memory, chunks);
    const rest = await resumeAndWatch(memory, chunks, seen.at(-1)!.sequence);
    assert.equal(texts(seen) + texts(rest), chunks.join(''));
    const sequences = [...seen, ...rest].map((e) => e.sequence);
    assert.deepEqual(sequences, sequences.map((_, i) => sequences[0] + i));
    assert.equal(rest.at(-1)?.event?.$case, 'turnCompleted');
    const history = memory.threads.get('resumed')!.messages;
    assert.deepEqual(history.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT]);
    assert.equal(history[1].content, chunks.join(''));
  });

  it('a model that answers differently: its new answer is streamed in full and stored; message_completed is authoritative', async () => {
    const memory = new InProcessMemory();
    const seen = await drainMidStream(memory, chunks);
    const other = chunks.map((c) => c.toUpperCase());
    const rest = await resumeAndWatch(memory, other, seen.at(-1)!.sequence);
    assert.equal(texts(rest), other.join(''), 'the new answer from its start');
    const completed = rest.find((e) => e.event?.$case === 'messageCompleted')!;
    assert.equal((completed.event as { messageCompleted: { message: { content: string } } }).messageCompleted.message.content, other.join(''));
    assert.equal(memory.threads.get('resumed')!.messages[1].content, other.join(''));
  });
});

describe('the clean-stop mark of a drain', function () {
  this.timeout(30_000);

  it('is cleared before a resumed turn streams, so a kill -9 of the next process still leaves a sequence gap', async () => {
    const memory = new InProcessMemory();
    // Long enough (about 1.5 s) that the resumed turn is still running when the mark is checked.
    const chunks = Array.from({ length: 100 }, (_, i) => `c${i} `);
    await drainMidStream(memory, chunks);
    const stored = async () => decodeThreadRecord((await memory.getState('threads/resumed'))!.value)!;
    assert.equal((await stored()).cleanStop, true, 'the drain marked the record');
    const host = new AgentHost({ memory, tools: new InProcessToolRunner([]), providerFor: () => slowModel(chunks) });
    await host.start();
    await until('the resumed turn to clear the mark', async () => (await stored()).cleanStop === undefined, 30_000);
    assert.ok((await stored()).activeTurn, 'cleared before the turn ended');
    await host.stop();
  });
});
