import { Environment, Optional } from '@marcbachmann/cel-js';

/** Variables every chain expression sees (see chain.proto). */
export interface ExpressionScope {
  input: unknown;
  run: unknown;
  steps: Record<string, unknown>;
  /** Only in map_reduce's reduce_expression: the list of map outputs. */
  results?: unknown[];
}

export type ExpressionKind = 'step' | 'reduce';

/** A compile failure, with the library's message trimmed to one readable line. */
export class ExpressionCompileError extends Error {
  constructor(readonly expression: string, message: string) {
    super(message);
    this.name = 'ExpressionCompileError';
  }
}

/** An evaluation failure (no such key, wrong types, division by zero…). */
export class ExpressionEvaluationError extends Error {
  constructor(readonly expression: string, message: string) {
    super(message);
    this.name = 'ExpressionEvaluationError';
  }
}

const limits = { maxAstNodes: 10_000, maxDepth: 100, maxListElements: 10_000, maxMapEntries: 10_000, maxCallArguments: 32 };

function makeEnvironment(kind: ExpressionKind): Environment {
  const env = new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true, limits })
    .registerVariable('input', 'dyn')
    .registerVariable('run', 'dyn')
    .registerVariable('steps', 'map<string, dyn>');
  if (kind === 'reduce') env.registerVariable('results', 'list<dyn>');
  return env;
}

const environments: Record<ExpressionKind, Environment> = { step: makeEnvironment('step'), reduce: makeEnvironment('reduce') };

type Evaluate = (context: Record<string, unknown>) => unknown;

/** A compiled, type-checked CEL expression; evaluate() returns plain JSON values. */
export class CelExpression {
  private constructor(readonly source: string, private readonly evaluator: Evaluate) {}

  private static cache = new Map<string, CelExpression>();

  /** Parses and type-checks; throws ExpressionCompileError. Compiled programs are cached by source. */
  static compile(source: string, kind: ExpressionKind = 'step'): CelExpression {
    const key = `${kind}\u0000${source}`;
    const cached = CelExpression.cache.get(key);
    if (cached) return cached;
    let evaluator: Evaluate;
    try {
      const parsed = environments[kind].parse(source);
      const checked = parsed.check();
      if (!checked.valid) throw checked.error ?? new Error('type check failed');
      evaluator = parsed as unknown as Evaluate;
    } catch (error) {
      throw new ExpressionCompileError(source, firstLine(error));
    }
    const expression = new CelExpression(source, evaluator);
    if (CelExpression.cache.size > 10_000) CelExpression.cache.clear();
    CelExpression.cache.set(key, expression);
    return expression;
  }

  evaluate(scope: ExpressionScope): unknown {
    try {
      return toJsonValue(this.evaluator(scope as unknown as Record<string, unknown>));
    } catch (error) {
      if (error instanceof ExpressionEvaluationError) throw error;
      throw new ExpressionEvaluationError(this.source, firstLine(error));
    }
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim();
}

/**
 * CEL values back to what google.protobuf.Value can carry: int/uint become
 * numbers, timestamps RFC 3339 strings, durations "1.5s", bytes base64.
 */
export function toJsonValue(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint': {
      const n = Number(value);
      if (!Number.isSafeInteger(n)) throw new ExpressionEvaluationError('', `integer ${value} does not fit a JSON number exactly`);
      return n;
    }
    case 'undefined':
      return null;
    case 'object':
      break;
    default:
      throw new ExpressionEvaluationError('', `a ${typeof value} cannot be a chain value`);
  }
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(k)] = toJsonValue(v);
    return out;
  }
  const ctorName = (value as object).constructor?.name;
  if (ctorName === 'UnsignedInteger') return toJsonValue((value as { value: unknown }).value);
  if (value instanceof Optional) return value.hasValue() ? toJsonValue(value.value()) : null;
  const record = value as Record<string, unknown>;
  if (typeof record.seconds !== 'undefined' && typeof record.nanos !== 'undefined' && Object.keys(record).length === 2) {
    const seconds = Number(record.seconds) + Number(record.nanos) / 1e9;
    return `${seconds}s`;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record)) out[key] = toJsonValue(record[key]);
  return out;
}
