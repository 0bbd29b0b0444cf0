import assert from 'node:assert/strict';
import { Role } from '@elixirchain/proto/memory';
import { OpenAIModelProvider } from '../src/model/openai-model-provider.js';
import type { ModelEvent, ModelRequest } from '../src/model/model-provider.js';
import { CircuitBreakerRegistry } from '../src/model/circuit-breaker.js';
import { FakeOpenAIServer, textChunk, toolChunk, usageChunk, type FakeReply } from './fake-openai-server.js';
import { Agent, SendMessageRequest, TurnStatus } from '@elixirchain/proto/agent';
import { AgentHost } from '../src/host/agent-host.js';
import { InProcessMemory } from '../src/ports/in-process-memory.js';
import { InProcessToolRunner } from '../src/ports/in-process-tool-runner.js';

const request: ModelRequest = {
  model: 'fake-model',
  instructions: 'Be brief.',
  messages: [{ id: 'm1', threadId: 't', sequence: 1, role: Role.ROLE_USER, content: 'weather in Paris?', toolCalls: [], toolCallId: '', name: '', isError: false, turnId: 'u' }],
  tools: [{ name: 'weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
  context: { agentId: 'a', threadId: 't', turnId: 'u', callIndex: 0 },
};

async function collect(provider: OpenAIModelProvider, signal = new AbortController().signal): Promise<ModelEvent[]> {
  const events: ModelEvent[] = [];
  for await (const batch of provider.stream(request, signal)) events.push(...batch);
  return events;
}

describe('OpenAIModelProvider against a local OpenAI-compatible server', () => {
  let server: FakeOpenAIServer;
  async function providerFor(replies: FakeReply[], breakers?: CircuitBreakerRegistry) {
    server = new FakeOpenAIServer(replies);
    const baseURL = await server.start();
    return new OpenAIModelProvider({ apiKey: 'sk-test', baseURL, retry: { maxAttempts: 3, initialBackoffMs: 20, maxBackoffMs: 200, multiplier: 2 }, breakers });
  }
  afterEach(async () => server?.stop());

  it('streams text deltas, tool calls assembled from fragments, and token usage', async () => {
    const provider = await providerFor([
      {
        kind: 'stream',
        chunks: [
          textChunk('Let me '),
          textChunk('check.'),
          toolChunk(0, { id: 'call_1', name: 'weather', arguments: '{"ci' }),
          toolChunk(0, { arguments: 'ty":"Paris"}' }),
          toolChunk(1, { id: 'call_2', name: 'weather', arguments: '{"city":"Rome"}' }, 'tool_calls'),
          usageChunk(42, 17),
        ],
      },
    ]);
    const events = await collect(provider);
    assert.deepEqual(events, [
      { type: 'textDelta', text: 'Let me ' },
      { type: 'textDelta', text: 'check.' },
      { type: 'toolCall', id: 'call_1', name: 'weather', arguments: { city: 'Paris' } },
      { type: 'toolCall', id: 'call_2', name: 'weather', arguments: { city: 'Rome' } },
      { type: 'usage', inputTokens: 42, outputTokens: 17 },
      { type: 'finish', reason: 'tool_calls' },
    ]);
    const body = server.requests[0].body;
    assert.equal(body.model, 'fake-model');
    assert.equal(body.stream, true);
    assert.equal(body.messages[0].role, 'system');
    assert.equal(body.tools[0].function.name, 'weather');
  });

  it('waits for Retry-After on 429 and then succeeds', async () => {
    const provider = await providerFor([
      { kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'slow down' } } },
      { kind: 'stream', chunks: [textChunk('ok', 'stop')] },
    ]);
    const events = await collect(provider);
    assert.deepEqual(events.filter((e) => e.type === 'textDelta'), [{ type: 'textDelta', text: 'ok' }]);
    assert.equal(server.requests.length, 2);
    const waited = server.requests[1].at - server.requests[0].at;
    assert.ok(waited >= 950, `retried after ${waited} ms, Retry-After asked for 1000`);
  });

  it('retries a 500 with backoff and then succeeds', async () => {
    const provider = await providerFor([
      { kind: 'status', status: 500 },
      { kind: 'stream', chunks: [textChunk('recovered', 'stop')] },
    ]);
    const events = await collect(provider);
    assert.equal(events.find((e) => e.type === 'textDelta')?.type, 'textDelta');
    assert.equal(server.requests.length, 2);
  });

  it('does not retry a 400 and reports its status', async () => {
    const provider = await providerFor([{ kind: 'status', status: 400, body: { error: { message: 'bad tool schema' } } }]);
    await assert.rejects(collect(provider), (e: any) => e.httpStatus === 400 && /bad tool schema/.test(e.message));
    assert.equal(server.requests.length, 1);
  });

  it('opens the circuit after repeated failures and fails fast', async () => {
    const breakers = new CircuitBreakerRegistry({ failureThreshold: 3, openMs: 60_000 });
    const provider = await providerFor([{ kind: 'status', status: 503 }, { kind: 'status', status: 503 }, { kind: 'status', status: 503 }], breakers);
    await assert.rejects(collect(provider), (e: any) => e.httpStatus === 503);
    const before = server.requests.length;
    await assert.rejects(collect(provider), (e: any) => e.name === 'CircuitOpenError');
    assert.equal(server.requests.length, before, 'an open circuit makes no request');
  });

  it('stops a running stream cleanly when the signal aborts', async () => {
    const chunks = Array.from({ length: 200 }, (_, i) => textChunk(`w${i} `));
    const provider = await providerFor([{ kind: 'stream', chunks, delayMs: 10 }]);
    const controller = new AbortController();
    const seen: ModelEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const batch of provider.stream(request, controller.signal)) {
          seen.push(...batch);
          if (seen.length === 3) controller.abort(new Error('cancelled by test'));
        }
      })(),
      /cancelled by test|abort/i,
    );
    assert.ok(seen.length < 50);
    assert.equal(server.requests.length, 1, 'a cancelled call is not retried');
  });

  it('drives a whole agent turn: the tool call goes to the tool, its result back to the model', async () => {
    server = new FakeOpenAIServer([
      { kind: 'stream', chunks: [toolChunk(0, { id: 'call_w', name: 'weather', arguments: '{"city":"Paris"}' }, 'tool_calls'), usageChunk(30, 8)] },
      { kind: 'stream', chunks: [textChunk('Sunny in '), textChunk('Paris.', 'stop'), usageChunk(50, 4)] },
    ]);
    const baseURL = await server.start();
    const tools = new InProcessToolRunner([{ name: 'weather', inputSchema: { type: 'object', properties: { city: { type: 'string' } } }, run: (i) => ({ city: i.city, sky: 'sunny' }) }]);
    const host = new AgentHost({ memory: new InProcessMemory(), tools, models: { openaiApiKey: 'sk-test', openaiBaseUrl: baseURL } });
    try {
      await host.createAgent(Agent.fromPartial({ id: 'forecaster', instructions: 'Answer about weather.', model: { model: 'gpt-fake' }, tools: [{ name: 'weather' }] }), '');
      const events = [];
      for await (const e of await host.sendMessage(SendMessageRequest.fromPartial({ agentId: 'forecaster', content: 'Weather in Paris?' }))) events.push(e);
      const done = events.at(-1)!.event as any;
      assert.equal(done.turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
      assert.deepEqual(done.turnCompleted.usage, { inputTokens: 80, outputTokens: 12, totalTokens: 92, modelCalls: 2, toolCalls: 1 });
      assert.deepEqual(tools.invocations.map((i) => i.input), [{ city: 'Paris' }]);
      const second = server.requests[1].body;
      assert.equal(second.model, 'gpt-fake');
      const toolMessage = second.messages.find((m: any) => m.role === 'tool');
      assert.equal(toolMessage.tool_call_id, 'call_w');
      assert.deepEqual(JSON.parse(toolMessage.content), { city: 'Paris', sky: 'sunny' });
      assert.equal(second.messages.find((m: any) => m.role === 'assistant').tool_calls[0].function.name, 'weather');
    } finally {
      await host.stop();
    }
  });
});
