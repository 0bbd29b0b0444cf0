import { Aggregation } from '@elixirchain/proto/chain';
import type { Chain, RetryPolicy, Step } from '@elixirchain/proto/chain';
import type { Duration } from '@elixirchain/proto/google/protobuf/duration';
import { CelExpression, ExpressionCompileError } from '../expressions/cel-expression.js';
import type { ExpressionKind } from '../expressions/cel-expression.js';
import { boundedText, quoteInput } from './quote-input.js';
import { STEP_KIND_FIELDS } from './step-kind.js';

/** One problem in a definition, as google.rpc.BadRequest.FieldViolation. */
export interface FieldViolation {
  field: string;
  description: string;
}

export const CHAIN_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const STEP_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;
const TOOL_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
const MAX_DEPTH = 32;
const MAX_STEPS = 1_000;
const MAX_RETRY_ATTEMPTS = 100;

export const GRPC_CODE_NAMES = new Set([
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
]);

/** A tool or agent a chain names; checked against the live services for warnings. */
export interface ChainReference {
  kind: 'tool' | 'agent';
  name: string;
  version: string;
  field: string;
}

export interface ChainValidation {
  violations: FieldViolation[];
  references: ChainReference[];
}

/**
 * Checks a chain definition without running it: step kinds, ids, CEL (compiled
 * and type-checked), quorum, concurrency, retry and timeout. Field paths are
 * relative to the Chain message and use proto field names, e.g.
 * `root.sequential.steps[2].transform.expression`. A chain is a tree of nested
 * messages with no references between steps, so it cannot have cycles.
 */
export function validateChain(chain: Chain, options: { requireId: boolean }): ChainValidation {
  const violations: FieldViolation[] = [];
  const references: ChainReference[] = [];
  const seenIds = new Map<string, string>();
  let stepCount = 0;
  const violate = (field: string, description: string) => violations.push({ field, description });

  if (options.requireId || chain.id !== '') {
    if (!CHAIN_ID_PATTERN.test(chain.id)) violate('id', 'must be 1-63 lowercase letters, digits, "_" or "-", starting with a letter or digit');
  }
  if (chain.displayName.length > 200) violate('display_name', 'must be at most 200 characters');

  const expression = (field: string, source: string, kind: ExpressionKind = 'step') => {
    try {
      CelExpression.compile(source, kind);
    } catch (error) {
      if (error instanceof ExpressionCompileError) violate(field, `invalid CEL: ${boundedText(error.message)}`);
      else throw error;
    }
  };

  const duration = (field: string, value: Duration | undefined) => {
    if (!value) return;
    if (value.seconds < 0 || value.nanos < 0) violate(field, 'must not be negative');
  };

  const retry = (field: string, policy: RetryPolicy | undefined) => {
    if (!policy) return;
    if (policy.maxAttempts < 0 || policy.maxAttempts > MAX_RETRY_ATTEMPTS) violate(`${field}.max_attempts`, `must be between 0 and ${MAX_RETRY_ATTEMPTS}`);
    duration(`${field}.initial_backoff`, policy.initialBackoff);
    duration(`${field}.max_backoff`, policy.maxBackoff);
    if (policy.backoffMultiplier !== 0 && !(policy.backoffMultiplier >= 1)) violate(`${field}.backoff_multiplier`, 'must be at least 1 (0 means the default, 2)');
    policy.nonRetryableCodes.forEach((code, i) => {
      if (!GRPC_CODE_NAMES.has(code)) violate(`${field}.non_retryable_codes[${i}]`, `${quoteInput(code)} is not a gRPC status code name (e.g. "INVALID_ARGUMENT")`);
    });
  };

  const step = (field: string, value: Step | undefined, depth: number) => {
    if (!value) {
      violate(field, 'is required');
      return;
    }
    stepCount++;
    if (depth > MAX_DEPTH) {
      violate(field, `steps nest deeper than ${MAX_DEPTH} levels`);
      return;
    }
    if (value.id === '') violate(`${field}.id`, 'is required: every step needs an id, unique within the chain');
    else if (!STEP_ID_PATTERN.test(value.id)) violate(`${field}.id`, 'must start with a letter or "_" and contain only letters, digits, "_" or "-" (at most 63)');
    else if (seenIds.has(value.id)) violate(`${field}.id`, `duplicate step id ${quoteInput(value.id)} (first used at ${seenIds.get(value.id)})`);
    else seenIds.set(value.id, field);
    duration(`${field}.timeout`, value.timeout);
    retry(`${field}.retry`, value.retry);

    const kind = value.kind;
    if (!kind) {
      violate(field, `has no kind: set exactly one of ${Object.values(STEP_KIND_FIELDS).join(', ')}`);
      return;
    }
    switch (kind.$case) {
      case 'tool': {
        const f = `${field}.tool`;
        if (!TOOL_NAME_PATTERN.test(kind.tool.tool)) violate(`${f}.tool`, kind.tool.tool === '' ? 'is required' : 'must be a tool name (lowercase letters, digits, "_" or "-", starting with a letter)');
        else references.push({ kind: 'tool', name: kind.tool.tool, version: kind.tool.version, field: `${f}.tool` });
        if (kind.tool.version.length > 64) violate(`${f}.version`, 'must be a semver version or range of at most 64 characters');
        if (kind.tool.input !== '') expression(`${f}.input`, kind.tool.input);
        break;
      }
      case 'agent': {
        const f = `${field}.agent`;
        if (kind.agent.agentId === '') violate(`${f}.agent_id`, 'is required');
        else if (kind.agent.agentId.length > 128 || /\p{Cc}/u.test(kind.agent.agentId)) violate(`${f}.agent_id`, 'must be an agent id (at most 128 printable characters)');
        else references.push({ kind: 'agent', name: kind.agent.agentId, version: '', field: `${f}.agent_id` });
        if (kind.agent.threadId.length > 128 || /\p{Cc}/u.test(kind.agent.threadId)) violate(`${f}.thread_id`, 'must be a thread id (at most 128 printable characters)');
        if (kind.agent.message !== '') expression(`${f}.message`, kind.agent.message);
        break;
      }
      case 'transform':
        if (kind.transform.expression === '') violate(`${field}.transform.expression`, 'is required');
        else expression(`${field}.transform.expression`, kind.transform.expression);
        break;
      case 'sequential':
        if (kind.sequential.steps.length === 0) violate(`${field}.sequential.steps`, 'must have at least one step');
        kind.sequential.steps.forEach((s, i) => step(`${field}.sequential.steps[${i}]`, s, depth + 1));
        break;
      case 'parallel': {
        const p = kind.parallel;
        const f = `${field}.parallel`;
        if (p.branches.length === 0) violate(`${f}.branches`, 'must have at least one branch');
        if (p.aggregation === Aggregation.AGGREGATION_QUORUM) {
          if (p.quorum < 1 || p.quorum > p.branches.length) violate(`${f}.quorum`, `must be between 1 and the number of branches (${p.branches.length}), got ${p.quorum}`);
        } else if (p.quorum !== 0) {
          violate(`${f}.quorum`, 'is only meaningful with aggregation AGGREGATION_QUORUM');
        }
        if (p.aggregation === Aggregation.UNRECOGNIZED || (p.aggregation as number) < 0 || (p.aggregation as number) > 3) violate(`${f}.aggregation`, 'unknown aggregation');
        p.branches.forEach((s, i) => step(`${f}.branches[${i}]`, s, depth + 1));
        break;
      }
      case 'conditional': {
        const c = kind.conditional;
        const f = `${field}.conditional`;
        if (c.branches.length === 0 && !c.otherwise) violate(`${f}.branches`, 'must have at least one branch');
        c.branches.forEach((b, i) => {
          if (b.when === '') violate(`${f}.branches[${i}].when`, 'is required (a CEL predicate)');
          else expression(`${f}.branches[${i}].when`, b.when);
          step(`${f}.branches[${i}].step`, b.step, depth + 1);
        });
        if (c.otherwise) step(`${f}.otherwise`, c.otherwise, depth + 1);
        break;
      }
      case 'pipeline': {
        const f = `${field}.pipeline`;
        if (kind.pipeline.stages.length === 0) violate(`${f}.stages`, 'must have at least one stage');
        kind.pipeline.stages.forEach((stage, i) => {
          if (stage.map !== '') expression(`${f}.stages[${i}].map`, stage.map);
          step(`${f}.stages[${i}].step`, stage.step, depth + 1);
        });
        break;
      }
      case 'mapReduce': {
        const m = kind.mapReduce;
        const f = `${field}.map_reduce`;
        if (m.items !== '') expression(`${f}.items`, m.items);
        if (m.concurrency < 1) violate(`${f}.concurrency`, `must be at least 1 (the most map steps running at once), got ${m.concurrency}`);
        step(`${f}.map`, m.map, depth + 1);
        if (m.reduce?.$case === 'reduceStep') step(`${f}.reduce_step`, m.reduce.reduceStep, depth + 1);
        else if (m.reduce?.$case === 'reduceExpression') {
          if (m.reduce.reduceExpression === '') violate(`${f}.reduce_expression`, 'must not be empty');
          else expression(`${f}.reduce_expression`, m.reduce.reduceExpression, 'reduce');
        }
        break;
      }
    }
  };

  step('root', chain.root, 0);
  if (stepCount > MAX_STEPS) violate('root', `a chain may have at most ${MAX_STEPS} steps, this one has ${stepCount}`);
  return { violations, references };
}
