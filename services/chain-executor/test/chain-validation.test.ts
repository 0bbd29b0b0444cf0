import assert from 'node:assert/strict';
import { Aggregation } from '@elixirchain/proto/chain';
import { chainFromDocument, ChainDocumentError, formatChainDocument, parseChainDocument } from '../src/definitions/chain-document.js';
import { validateChain } from '../src/definitions/chain-validator.js';
import { chain, mapReduce, parallel, sequential, tool, transform } from './support/chain-builders.js';

const fields = (c: Parameters<typeof validateChain>[0]) => validateChain(c, { requireId: true }).violations.map((v) => v.field);

describe('chain validation', () => {
  it('points at the invalid CEL of the third step', () => {
    const c = chain('bad-cel', sequential('s', [transform('a', '1'), transform('b', '2'), transform('c', 'input.x +')]));
    const { violations } = validateChain(c, { requireId: true });
    assert.deepEqual(violations.map((v) => v.field), ['root.sequential.steps[2].transform.expression']);
    assert.match(violations[0]!.description, /invalid CEL/);
  });

  it('rejects undeclared variables and type errors at compile time', () => {
    assert.deepEqual(fields(chain('v', transform('a', 'inptu.x'))), ['root.transform.expression']);
    assert.deepEqual(fields(chain('v', transform('a', '"a" + 1'))), ['root.transform.expression']);
  });

  it('rejects duplicate step ids, missing kinds, quorum out of range and concurrency below 1', () => {
    const c = chain('many', sequential('s', [
      transform('a', '1'),
      transform('a', '2'),
      { id: 'empty', description: '', timeout: undefined, retry: undefined, kind: undefined },
      parallel('p', [transform('x', '1'), transform('y', '2')], Aggregation.AGGREGATION_QUORUM, 3),
      mapReduce('m', transform('z', 'input'), 0),
    ]));
    assert.deepEqual(fields(c), [
      'root.sequential.steps[1].id',
      'root.sequential.steps[2]',
      'root.sequential.steps[3].parallel.quorum',
      'root.sequential.steps[4].map_reduce.concurrency',
    ]);
  });

  it('collects tool references for the warning check', () => {
    const { references } = validateChain(chain('refs', tool('t', 'fetch-page')), { requireId: true });
    assert.deepEqual(references.map((r) => [r.kind, r.name, r.field]), [['tool', 'fetch-page', 'root.tool.tool']]);
  });
});

describe('chain documents (YAML/JSON)', () => {
  const yaml = `
id: summarize
display_name: Summarize pages
root:
  id: main
  sequential:
    steps:
      - id: fetch
        timeout: 30s
        retry: { max_attempts: 3, initial_backoff: 250ms }
        tool: { tool: http-get, input: '{"url": input.url}' }
      - id: pick
        parallel:
          aggregation: first
          branches:
            - { id: a, transform: { expression: 'steps.fetch.body' } }
            - { id: b, transform: { expression: '"fallback"' } }
`;

  it('reads the proto3 JSON mapping with durations and short enum names, and writes it back', () => {
    const c = parseChainDocument(yaml);
    const fetch = c.root!.kind!.$case === 'sequential' ? c.root!.kind!.sequential.steps[0]! : undefined;
    assert.deepEqual(fetch?.timeout, { seconds: 30, nanos: 0 });
    assert.deepEqual(fetch?.retry?.initialBackoff, { seconds: 0, nanos: 250_000_000 });
    const pick = c.root!.kind!.$case === 'sequential' ? c.root!.kind!.sequential.steps[1]! : undefined;
    assert.equal(pick?.kind?.$case === 'parallel' && pick.kind.parallel.aggregation, Aggregation.AGGREGATION_FIRST);
    assert.deepEqual(validateChain(c, { requireId: true }).violations, []);
    const again = parseChainDocument(formatChainDocument(c));
    assert.deepEqual(again, c);
  });

  it('refuses an unknown step kind with its path instead of dropping it', () => {
    assert.throws(
      () => chainFromDocument({ id: 'x', root: { id: 'r', sequential: { steps: [{ id: 'a', loop: {} }] } } }),
      (error: unknown) => error instanceof ChainDocumentError && error.violations[0]!.field === 'root.sequential.steps[0].loop',
    );
  });

  it('refuses a step with two kinds', () => {
    assert.throws(() => chainFromDocument({ id: 'x', root: { id: 'r', transform: { expression: '1' }, tool: { tool: 't' } } }), /more than one kind/);
  });
});

describe('sample chains in examples/', () => {
  for (const name of ['summarize-pages.yaml', 'triage.yaml', 'enrich-order.yaml']) {
    it(`${name} parses and validates`, async () => {
      const { readFile } = await import('node:fs/promises');
      const text = await readFile(new URL(`../examples/${name}`, import.meta.url), 'utf8');
      const c = parseChainDocument(text);
      assert.deepEqual(validateChain(c, { requireId: true }).violations, []);
    });
  }
});
