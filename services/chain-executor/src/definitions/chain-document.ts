import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { Chain } from '@elixirchain/proto/chain';
import type { FieldViolation } from './chain-validator.js';
import { quoteInput } from './quote-input.js';

/** A chain file that is not valid YAML/JSON or names fields the schema does not have. */
export class ChainDocumentError extends Error {
  constructor(readonly violations: FieldViolation[]) {
    super(violations.map((v) => `${v.field}: ${v.description}`).join('; '));
    this.name = 'ChainDocumentError';
  }
}

// Known fields per message, in proto names; the JSON names (lowerCamel) are accepted too.
const MESSAGE_FIELDS: Record<string, Record<string, string | null>> = {
  Chain: { id: null, display_name: null, description: null, root: 'Step', metadata: null, version: null, create_time: null, update_time: null },
  Step: {
    id: null, description: null, timeout: 'Duration', retry: 'RetryPolicy',
    tool: 'ToolStep', agent: 'AgentStep', transform: 'TransformStep', sequential: 'SequentialStep',
    parallel: 'ParallelStep', conditional: 'ConditionalStep', pipeline: 'PipelineStep', map_reduce: 'MapReduceStep',
  },
  RetryPolicy: { max_attempts: null, initial_backoff: 'Duration', max_backoff: 'Duration', backoff_multiplier: null, non_retryable_codes: null },
  ToolStep: { tool: null, version: null, input: null },
  AgentStep: { agent_id: null, message: null, thread_id: null },
  TransformStep: { expression: null },
  SequentialStep: { steps: 'Step[]' },
  ParallelStep: { branches: 'Step[]', aggregation: 'Aggregation', quorum: null },
  ConditionalStep: { branches: 'ConditionalBranch[]', otherwise: 'Step' },
  ConditionalBranch: { when: null, step: 'Step' },
  PipelineStep: { stages: 'PipelineStage[]' },
  PipelineStage: { step: 'Step', map: null },
  MapReduceStep: { items: null, map: 'Step', concurrency: null, reduce_step: 'Step', reduce_expression: null },
};

const STEP_KINDS = ['tool', 'agent', 'transform', 'sequential', 'parallel', 'conditional', 'pipeline', 'map_reduce'];

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * Reads a chain written as YAML or JSON: the proto3 JSON mapping of Chain
 * (field names in snake_case or lowerCamelCase, durations as "30s", enums by
 * name — "AGGREGATION_FIRST" or just "first"). Unknown fields are refused with
 * their path, so a typo such as `paralel:` is not silently dropped.
 */
export function parseChainDocument(text: string): Chain {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ChainDocumentError([{ field: '', description: `not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}` }]);
  }
  return chainFromDocument(raw);
}

/** The same as parseChainDocument for an already-parsed object. */
export function chainFromDocument(raw: unknown): Chain {
  const violations: FieldViolation[] = [];
  const normalized = normalize(raw, 'Chain', '', violations);
  if (violations.length > 0) throw new ChainDocumentError(violations);
  return Chain.fromJSON(normalized);
}

/** Writes a chain as YAML (proto field names, durations as "30s"). */
export function formatChainDocument(chain: Chain, format: 'yaml' | 'json' = 'yaml'): string {
  const json = toDocument(Chain.toJSON(chain), 'Chain');
  return format === 'json' ? `${JSON.stringify(json, null, 2)}\n` : stringifyYaml(json);
}

function normalize(value: unknown, type: string, path: string, violations: FieldViolation[]): unknown {
  if (type.endsWith('[]')) {
    if (!Array.isArray(value)) {
      violations.push({ field: path, description: 'must be a list' });
      return [];
    }
    return value.map((item, i) => normalize(item, type.slice(0, -2), `${path}[${i}]`, violations));
  }
  if (type === 'Duration') return normalizeDuration(value, path, violations);
  if (type === 'Aggregation') {
    if (typeof value !== 'string') return value;
    const upper = value.toUpperCase();
    return upper.startsWith('AGGREGATION_') ? upper : `AGGREGATION_${upper}`;
  }
  const fields = MESSAGE_FIELDS[type];
  if (!fields) return value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    violations.push({ field: path, description: `must be an object (${type})` });
    return {};
  }
  const out: Record<string, unknown> = {};
  for (const [key, fieldValue] of Object.entries(value)) {
    const name = snake(key);
    const fieldPath = path === '' ? name : `${path}.${name}`;
    if (!(name in fields)) {
      const hint = type === 'Step' ? ` (unknown step kind or field; a step has id, description, timeout, retry and one of ${STEP_KINDS.join(', ')})` : '';
      violations.push({ field: fieldPath, description: `unknown field ${quoteInput(key)}${hint}` });
      continue;
    }
    const fieldType = fields[name];
    out[name] = fieldType ? normalize(fieldValue, fieldType, fieldPath, violations) : fieldValue;
  }
  if (type === 'Step') {
    const kinds = STEP_KINDS.filter((k) => k in out);
    if (kinds.length > 1) violations.push({ field: path, description: `has more than one kind (${kinds.join(', ')}); a step has exactly one` });
  }
  return out;
}

const DURATION_PATTERN = /^(-?\d+(?:\.\d{1,9})?)(s|ms)$/;

function normalizeDuration(value: unknown, path: string, violations: FieldViolation[]): unknown {
  if (typeof value === 'number') return { seconds: Math.trunc(value), nanos: Math.round((value % 1) * 1e9) };
  if (typeof value !== 'string') return value;
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) {
    violations.push({ field: path, description: `${quoteInput(value)} is not a duration such as "30s", "1.5s" or "250ms"` });
    return undefined;
  }
  const seconds = Number(match[1]) / (match[2] === 'ms' ? 1000 : 1);
  const whole = Math.trunc(seconds);
  return { seconds: whole, nanos: Math.round((seconds - whole) * 1e9) };
}

function toDocument(value: unknown, type: string): unknown {
  if (value === undefined || value === null) return value;
  if (type.endsWith('[]')) return (value as unknown[]).map((item) => toDocument(item, type.slice(0, -2)));
  if (type === 'Duration') {
    const d = value as { seconds?: number; nanos?: number };
    return `${(d.seconds ?? 0) + (d.nanos ?? 0) / 1e9}s`;
  }
  const fields = MESSAGE_FIELDS[type];
  if (!fields || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, fieldValue] of Object.entries(value as Record<string, unknown>)) {
    const name = snake(key);
    const fieldType = fields[name];
    out[name] = fieldType ? toDocument(fieldValue, fieldType) : fieldValue;
  }
  return out;
}
