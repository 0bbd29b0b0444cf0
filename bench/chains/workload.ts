// The chains suite's workload: trivial steps (a CEL transform each), so what
// is measured is the executor's own cost per step — scheduling, events,
// checkpoints — not the work inside a step.
import type { Chain, Step } from '@elixirchain/proto/chain';

export const SEQUENTIAL_STEPS = 50;
export const MAP_ITEMS = 200;
export const MAP_CONCURRENCY = 16;

const transform = (id: string, expression: string): Step => ({ id, description: '', timeout: undefined, retry: undefined, kind: { $case: 'transform', transform: { expression } } });

const chain = (id: string, root: Step): Chain => ({ id, displayName: id, description: '', root, metadata: undefined, version: 0, createTime: undefined, updateTime: undefined });

/** `input.n + 1` fifty times, one step after another: output = input + 50. */
export function sequentialChain(): Chain {
  const steps = Array.from({ length: SEQUENTIAL_STEPS }, (_, i) => transform(`s${i}`, i === 0 ? 'input.n + 1.0' : `steps.s${i - 1} + 1.0`));
  return chain('bench-sequential', { id: 'root', description: '', timeout: undefined, retry: undefined, kind: { $case: 'sequential', sequential: { steps } } });
}

/** Doubles each of MAP_ITEMS numbers (MAP_CONCURRENCY at once), then sums them in CEL. */
export function mapReduceChain(): Chain {
  return chain('bench-map-reduce', {
    id: 'root',
    description: '',
    timeout: undefined,
    retry: undefined,
    kind: {
      $case: 'mapReduce',
      mapReduce: {
        items: 'input.items',
        map: transform('double', 'input * 2.0'),
        concurrency: MAP_CONCURRENCY,
        reduce: { $case: 'reduceExpression', reduceExpression: 'size(results)' },
      },
    },
  });
}

export const mapInput = () => ({ items: Array.from({ length: MAP_ITEMS }, (_, i) => i) });
