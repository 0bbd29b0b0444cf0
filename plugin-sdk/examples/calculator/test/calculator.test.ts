import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testTool, type ToolUnderTest } from '@elixirchain/plugin-sdk/testing';
import type calculator from '../src/index.ts';

describe('calculator', () => {
  let tool: ToolUnderTest<typeof calculator>;
  before(async () => {
    tool = await testTool<typeof calculator>();
  });
  after(() => tool.close());

  it('respects precedence, parentheses and right-associative powers', async () => {
    assert.equal((await tool.invoke({ expression: '2 + 3 * 4' })).output.value, 14);
    assert.equal((await tool.invoke({ expression: '(2 + 3) * 4' })).output.value, 20);
    assert.equal((await tool.invoke({ expression: '2 ^ 3 ^ 2' })).output.value, 512);
    assert.equal((await tool.invoke({ expression: '-sqrt(16) + max(1, 7, 3)' })).output.value, 3);
  });

  it('rounds to the requested precision (a zod default fills it in)', async () => {
    assert.equal((await tool.invoke({ expression: '1 / 3', precision: 3 })).output.value, 0.333);
    assert.equal((await tool.invoke({ expression: 'sqrt(2) ^ 2' })).output.value, 2);
  });

  it('reports a malformed expression as INVALID_ARGUMENT with its message (a ToolInputError)', async () => {
    await assert.rejects(tool.invoke({ expression: '2 +' }), (error: Error & { code?: string; reason?: string }) => {
      assert.equal(error.code, 'INVALID_ARGUMENT');
      assert.equal(error.reason, 'INVALID_TOOL_INPUT');
      assert.match(error.message, /ends too early/);
      return true;
    });
    await assert.rejects(tool.invoke({ expression: '1 / 0' }), { code: 'INVALID_ARGUMENT', message: /division by zero/ });
    await assert.rejects(tool.invoke({ expression: 'what is 2+3?' }), { code: 'INVALID_ARGUMENT', message: /unexpected "\?" at position 12/ });
  });

  it('refuses input that breaks the schema before the tool runs', async () => {
    await assert.rejects(tool.invoke({ expression: '' }), { code: 'INVALID_ARGUMENT' });
  });
});
