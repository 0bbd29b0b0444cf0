import { Aggregation } from '@elixirchain/proto/chain';
import type { Chain, RetryPolicy, Step } from '@elixirchain/proto/chain';

// Terse builders so tests read as chain definitions.
const base = (id: string): Omit<Step, 'kind'> => ({ id, description: '', timeout: undefined, retry: undefined });

export const transform = (id: string, expression: string): Step => ({ ...base(id), kind: { $case: 'transform', transform: { expression } } });
export const tool = (id: string, name: string, input = ''): Step => ({ ...base(id), kind: { $case: 'tool', tool: { tool: name, version: '', input } } });
export const agent = (id: string, agentId: string, message = ''): Step => ({ ...base(id), kind: { $case: 'agent', agent: { agentId, message, threadId: '' } } });
export const sequential = (id: string, steps: Step[]): Step => ({ ...base(id), kind: { $case: 'sequential', sequential: { steps } } });
export const parallel = (id: string, branches: Step[], aggregation = Aggregation.AGGREGATION_ALL, quorum = 0): Step => ({
  ...base(id),
  kind: { $case: 'parallel', parallel: { branches, aggregation, quorum } },
});
export const conditional = (id: string, branches: Array<[string, Step]>, otherwise?: Step): Step => ({
  ...base(id),
  kind: { $case: 'conditional', conditional: { branches: branches.map(([when, step]) => ({ when, step })), otherwise } },
});
export const pipeline = (id: string, stages: Array<Step | [string, Step]>): Step => ({
  ...base(id),
  kind: { $case: 'pipeline', pipeline: { stages: stages.map((s) => (Array.isArray(s) ? { map: s[0], step: s[1] } : { map: '', step: s })) } },
});
export const mapReduce = (id: string, map: Step, concurrency: number, opts: { items?: string; reduceExpression?: string; reduceStep?: Step } = {}): Step => ({
  ...base(id),
  kind: {
    $case: 'mapReduce',
    mapReduce: {
      items: opts.items ?? '',
      map,
      concurrency,
      reduce: opts.reduceStep ? { $case: 'reduceStep', reduceStep: opts.reduceStep } : opts.reduceExpression ? { $case: 'reduceExpression', reduceExpression: opts.reduceExpression } : undefined,
    },
  },
});
export const withTimeout = (step: Step, ms: number): Step => ({ ...step, timeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } });
export const withRetry = (step: Step, retry: Partial<RetryPolicy>): Step => ({
  ...step,
  retry: { maxAttempts: 1, initialBackoff: { seconds: 0, nanos: 10e6 }, maxBackoff: undefined, backoffMultiplier: 0, nonRetryableCodes: [], ...retry },
});
export const chain = (id: string, root: Step): Chain => ({ id, displayName: '', description: '', root, metadata: undefined, version: 0, createTime: undefined, updateTime: undefined });
