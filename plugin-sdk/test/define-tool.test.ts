import assert from 'node:assert/strict';
import { z } from 'zod';
import { defineTool, ToolDefinitionError, type ToolContext } from '../src/index.js';

const base = {
  name: 'adder',
  version: '1.2.3',
  description: 'Adds two numbers.',
  input: z.object({ a: z.number(), b: z.number().default(1) }),
  output: z.object({ sum: z.number() }),
  execute: ({ a, b }: { a: number; b: number }) => ({ sum: a + b }),
};

function definitionError(overrides: Record<string, unknown>): ToolDefinitionError {
  try {
    defineTool({ ...base, ...overrides } as never);
  } catch (error) {
    assert.ok(error instanceof ToolDefinitionError, `expected a ToolDefinitionError, got ${String(error)}`);
    return error;
  }
  assert.fail('defineTool accepted the definition');
}

describe('defineTool', () => {
  it('converts zod schemas to JSON Schema 2020-12 and fills in defaults for the manifest', () => {
    const tool = defineTool(base);
    assert.equal(tool.metadata.inputSchema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.deepEqual(tool.metadata.inputSchema.required, ['a']);
    assert.deepEqual(tool.metadata.outputSchema.required, ['sum']);
    assert.deepEqual(tool.metadata.annotations, { readOnly: false, destructive: false, idempotent: false, openWorld: false });
    assert.deepEqual(tool.metadata.permissions, { network: [], secrets: [] });
    assert.equal(tool.metadata.limits.memoryMb, 64);
    assert.equal(tool.metadata.retry.maxAttempts, 1);
  });

  it('applies zod defaults and refinements before execute', async () => {
    const tool = defineTool({ ...base, input: z.object({ a: z.number().refine((n) => n !== 13, 'unlucky'), b: z.number().default(1) }) });
    assert.deepEqual(await tool.execute({ a: 2 }, {} as ToolContext), { sum: 3 });
    await assert.rejects(tool.execute({ a: 13 }, {} as ToolContext), /input does not match the schema: a: unlucky/);
  });

  it('accepts raw JSON Schema objects', () => {
    const tool = defineTool({ ...base, input: { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] }, output: { type: 'number' }, execute: () => 1 });
    assert.equal(tool.metadata.outputSchema.type, 'number');
  });

  it('names the field for a bad name, with a suggestion', () => {
    const error = definitionError({ name: 'My Tool' });
    assert.equal(error.field, 'name');
    assert.match(error.message, /"My Tool" is not a valid tool name.*\(e\.g\. "my-tool"\)/);
  });

  it('refuses a version that is not semver, suggesting the fix', () => {
    assert.match(definitionError({ version: '1.0' }).message, /^version: "1\.0" is not a semantic version .*did you mean "1\.0\.0"/);
    assert.equal(definitionError({ version: 'latest' }).field, 'version');
  });

  it('refuses zod schemas that cannot become JSON Schema', () => {
    const error = definitionError({ input: z.object({ when: z.date() }) });
    assert.equal(error.field, 'input');
    assert.match(error.message, /cannot become JSON Schema: Date cannot be represented/);
    assert.match(definitionError({ output: z.bigint() }).message, /^output: .*BigInt/i);
  });

  it('refuses an input that is not an object, and draft-07 JSON Schema', () => {
    assert.match(definitionError({ input: z.string() }).message, /must describe an object/);
    assert.match(definitionError({ input: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' } }).message, /tools use JSON Schema 2020-12/);
  });

  it('refuses patterns the sandbox would refuse', () => {
    assert.match(definitionError({ input: z.object({ s: z.string().regex(/(a)\1/) }) }).message, /backreference or lookaround/);
    assert.match(definitionError({ input: z.object({ host: z.hostname() }) }).message, /use z\.string\(\)\.refine/);
  });

  it('refuses retries on tools that are not idempotent', () => {
    assert.equal(definitionError({ retry: { maxAttempts: 3 } }).field, 'retry');
    assert.doesNotThrow(() => defineTool({ ...base, annotations: { idempotent: true }, retry: { maxAttempts: 3 } }));
  });

  it('checks contextReuse with the sandbox limits, naming the field and the value', () => {
    const reuse = (contextReuse: unknown) => definitionError({ contextReuse });
    assert.equal(reuse({ maxCalls: 1001 }).message, 'contextReuse.maxCalls: must be an integer between 0 and 1000, got 1001');
    assert.equal(reuse({ maxCalls: -1 }).field, 'contextReuse.maxCalls');
    assert.equal(reuse({ maxCalls: 2.5 }).field, 'contextReuse.maxCalls');
    assert.equal(reuse({ maxIdleMs: 1000 }).message, 'contextReuse.maxCalls: must be an integer between 0 and 1000, got undefined');
    assert.equal(reuse({ maxCalls: 10, maxIdleMs: 300_001 }).message, 'contextReuse.maxIdleMs: must be an integer between 0 and 300000, got 300001');
    assert.equal(reuse({ maxCalls: 10, maxIdle: 5 }).message, 'contextReuse.maxIdle: is not a context reuse option (maxCalls, maxIdleMs)');
    assert.equal(reuse(true).field, 'contextReuse');
    assert.deepEqual(defineTool({ ...base, contextReuse: { maxCalls: 1000, maxIdleMs: 0 } }).metadata.contextReuse, { maxCalls: 1000, maxIdleMs: 0 });
    assert.equal(defineTool(base).metadata.contextReuse, undefined);
  });

  it('checks limits and permissions by name', () => {
    assert.equal(definitionError({ limits: { memoryMb: 100_000 } }).field, 'limits.memoryMb');
    assert.equal(definitionError({ limits: { memory: 10 } }).field, 'limits.memory');
    assert.match(definitionError({ permissions: { network: ['https://api.example.com/v1'] } }).message, /no scheme, no path/);
    assert.equal(definitionError({ annotations: { readOnly: true, destructive: true } }).field, 'annotations');
  });
});
