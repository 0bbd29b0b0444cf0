import assert from 'node:assert/strict';
import { ModelConfig } from '@elixirchain/proto/agent';
import type { ModelEvent } from '../src/model/model-provider.js';
import { argumentsFor, arithmeticIn, ScriptedModelProvider } from '../src/model/scripted-model-provider.js';

// The offline demo's scripted model fills a tool's input from the user's
// words; a calculator must get the arithmetic, not the whole sentence.
describe('scripted model: tool arguments from the user message', () => {
  const calculator = {
    name: 'calculator',
    description: 'Evaluates an arithmetic expression exactly as written',
    parameters: { type: 'object', properties: { expression: { type: 'string' }, precision: { type: 'integer' } }, required: ['expression'] },
  };

  it('gives a calculator-like expression field the longest arithmetic run of the message', () => {
    assert.deepEqual(argumentsFor(calculator, 'what is 2+3?'), { expression: '2+3' });
    assert.deepEqual(argumentsFor(calculator, 'What is (12 + 30) * 2, please?'), { expression: '(12 + 30) * 2' });
    assert.deepEqual(argumentsFor(calculator, 'what is 6*7?'), { expression: '6*7' });
    assert.equal(arithmeticIn('no numbers here'), undefined);
    assert.deepEqual(argumentsFor(calculator, 'no numbers here'), { expression: 'no numbers here' }, 'nothing arithmetic: the words as they are');
  });

  it('a single string field of a calculator-like tool gets the arithmetic whatever its name', () => {
    const evaluator = { name: 'evaluator', description: 'evaluates math', parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] } };
    assert.deepEqual(argumentsFor(evaluator, 'compute 10 / 4 for me'), { input: '10 / 4' });
  });

  it('other string fields keep the whole message; numbers get the first number', () => {
    const weather = { name: 'weather', description: 'current weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
    assert.deepEqual(argumentsFor(weather, 'weather in Paris 2 days?'), { city: 'weather in Paris 2 days?' });
    const primes = { name: 'prime-counter', description: 'counts primes', parameters: { type: 'object', properties: { limit: { type: 'integer' } }, required: ['limit'] } };
    assert.deepEqual(argumentsFor(primes, 'count primes up to 1000'), { limit: 1000 });
  });
});

describe('scripted model: events between delays arrive as one batch', () => {
  const request = { model: '', instructions: '', messages: [], tools: [], context: { agentId: 'a', threadId: 't', turnId: 'u', callIndex: 0 } };
  const batchesOf = async (config: ModelConfig) => {
    const out: ModelEvent[][] = [];
    try {
      for await (const batch of ScriptedModelProvider.forConfig(config).stream(request, new AbortController().signal)) out.push([...batch]);
    } catch (error) {
      out.push([{ type: 'finish', reason: `threw: ${(error as Error).message}` }]);
    }
    return out.map((b) => b.map((e) => (e.type === 'textDelta' ? e.text : e.type === 'finish' ? e.reason : e.type)));
  };

  it('splits at delays and hands over the text before a scripted error first', async () => {
    const text = (t: string, delayMs = 0) => ({ chunkSize: 2, delay: delayMs ? { seconds: 0, nanos: delayMs * 1e6 } : undefined, event: { $case: 'text' as const, text: t } });
    assert.deepEqual(await batchesOf(ModelConfig.fromPartial({ script: [{ events: [text('abcd'), text('ef', 1)] }] })), [['ab', 'cd'], ['ef', 'usage', 'stop']]);
    const failing = ModelConfig.fromPartial({ script: [{ events: [text('abcd'), { event: { $case: 'error', error: { httpStatus: 503, message: 'busy' } } }] }] });
    assert.deepEqual(await batchesOf(failing), [['ab', 'cd'], ['threw: busy']]);
  });
});
