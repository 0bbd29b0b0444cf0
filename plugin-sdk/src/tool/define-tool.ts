import { safeParse, type $ZodType, type input as ZodInput, type output as ZodOutput } from 'zod/v4/core';
import { ToolDefinitionError } from './tool-definition-error.js';
import { checkToolName, checkToolVersion } from './tool-identity.js';
import { isZodSchema, toJsonSchema, type ToolSchema } from './tool-schema.js';
import type {
  JsonSchema,
  ToolAnnotations,
  ToolContext,
  ToolContextReuse,
  ToolLimits,
  ToolPermissions,
  ToolRetryPolicy,
} from './tool-types.js';

/** The input type `execute` receives: zod's output type, or a plain record for a raw JSON Schema. */
export type InferToolInput<S> = S extends $ZodType ? ZodOutput<S> : { [key: string]: any };
/** The input a caller sends: zod's input type (fields with defaults are optional). */
export type InferToolCallInput<S> = S extends $ZodType ? ZodInput<S> : { [key: string]: any };
/** The value `execute` must return. */
export type InferToolOutput<S> = S extends $ZodType ? ZodOutput<S> : any;

export interface ToolDefinition<I extends ToolSchema, O extends ToolSchema> {
  /** Lowercase letters, digits, "_" and "-", starting with a letter; how agents call it. */
  name: string;
  /** Semantic version; publishing a higher one swaps it in live. */
  version: string;
  /** What the tool does and when to use it: the model reads this. */
  description: string;
  /** Schema of the input object: zod 4 (`z.object({...})`) or JSON Schema 2020-12. */
  input: I;
  /** Schema of the output value: zod 4 or JSON Schema 2020-12. */
  output: O;
  annotations?: ToolAnnotations;
  permissions?: ToolPermissions;
  limits?: ToolLimits;
  retry?: ToolRetryPolicy;
  /** Opt-in: a warm context serves several calls and its globals persist (see ToolContextReuse); default a fresh context per call. */
  contextReuse?: ToolContextReuse;
  execute(input: InferToolInput<I>, ctx: ToolContext): InferToolOutput<O> | Promise<InferToolOutput<O>>;
}

/** Everything about a tool except its code: what `build` writes into the manifest. */
export interface ToolMetadata {
  name: string;
  version: string;
  description: string;
  inputSchema: JsonSchema;
  outputSchema: JsonSchema;
  annotations: Required<ToolAnnotations>;
  permissions: Required<ToolPermissions>;
  limits: Required<ToolLimits>;
  retry: Required<ToolRetryPolicy>;
  /** Absent: a fresh context for every call. */
  contextReuse?: Required<ToolContextReuse>;
}

const TOOL_MARK = Symbol.for('elixirchain.tool');

/** What `defineTool` returns: export it as the module's default export. */
export interface Tool<I extends ToolSchema = ToolSchema, O extends ToolSchema = ToolSchema> {
  readonly metadata: ToolMetadata;
  /** The sandbox calls this; validates zod input (refinements, defaults) before the author's execute. */
  execute(input: unknown, ctx: ToolContext): Promise<InferToolOutput<O>>;
  /** Phantom fields that carry the inferred types. */
  readonly $input?: InferToolInput<I>;
  readonly $callInput?: InferToolCallInput<I>;
  readonly $output?: InferToolOutput<O>;
}

export const DEFAULT_LIMITS: Required<ToolLimits> = {
  memoryMb: 64,
  timeoutMs: 10_000,
  cpuTimeMs: 0,
  maxOutputBytes: 1024 * 1024,
  maxEvents: 1000,
};

// The sandbox's own minimums; the maximums are generous because each operator
// sets its own caps (and `publish` reports a manifest over them).
const LIMIT_RANGES: Record<keyof ToolLimits, [number, number]> = {
  memoryMb: [8, 4096],
  timeoutMs: [10, 15 * 60_000],
  cpuTimeMs: [10, 15 * 60_000],
  maxOutputBytes: [2, 64 * 1024 * 1024],
  maxEvents: [1, 1_000_000],
};

/**
 * Declares a tool. Checks the whole definition now, so a mistake (bad name,
 * bad version, a schema that cannot become JSON Schema, retry on a
 * non-idempotent tool) shows up when the module loads, with the field named.
 */
export function defineTool<I extends ToolSchema, O extends ToolSchema>(definition: ToolDefinition<I, O>): Tool<I, O> {
  if (typeof definition !== 'object' || definition === null) {
    throw new ToolDefinitionError('definition', 'defineTool takes one object: { name, version, description, input, output, execute }');
  }
  const name = checkToolName(definition.name);
  const version = checkToolVersion(definition.version);
  if (typeof definition.description !== 'string' || definition.description.trim().length === 0) {
    throw new ToolDefinitionError('description', 'is required: one or two sentences on what the tool does and when to use it');
  }
  if (typeof definition.execute !== 'function') {
    throw new ToolDefinitionError('execute', 'must be a function (input, ctx) => output');
  }
  const annotations = checkAnnotations(definition.annotations);
  const metadata: ToolMetadata = {
    name,
    version,
    description: definition.description.trim(),
    inputSchema: toJsonSchema('input', definition.input),
    outputSchema: toJsonSchema('output', definition.output),
    annotations,
    permissions: checkPermissions(definition.permissions),
    limits: checkLimits(definition.limits),
    retry: checkRetry(definition.retry, annotations),
  };
  const contextReuse = checkContextReuse(definition.contextReuse);
  if (contextReuse !== undefined) metadata.contextReuse = contextReuse;
  const inputSchema = definition.input;
  const authorExecute = definition.execute;
  const tool: Tool<I, O> = {
    metadata,
    async execute(input: unknown, ctx: ToolContext) {
      let parsed = input as InferToolInput<I>;
      if (isZodSchema(inputSchema)) {
        // JSON Schema already checked the shape on the host; zod adds what JSON
        // Schema cannot say (refinements, defaults, transforms).
        const result = safeParse(inputSchema, input);
        if (!result.success) {
          throw new TypeError(`input does not match the schema: ${result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`);
        }
        parsed = result.data as InferToolInput<I>;
      }
      return authorExecute(parsed, ctx);
    },
  };
  Object.defineProperty(tool, TOOL_MARK, { value: true });
  return Object.freeze(tool);
}

export function isTool(value: unknown): value is Tool {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TOOL_MARK] === true;
}

function checkAnnotations(annotations: ToolAnnotations | undefined): Required<ToolAnnotations> {
  const value = annotations ?? {};
  for (const key of Object.keys(value)) {
    if (!['readOnly', 'destructive', 'idempotent', 'openWorld'].includes(key)) {
      throw new ToolDefinitionError(`annotations.${key}`, 'is not an annotation (readOnly, destructive, idempotent, openWorld)');
    }
  }
  const result = {
    readOnly: value.readOnly === true,
    destructive: value.destructive === true,
    idempotent: value.idempotent === true,
    openWorld: value.openWorld === true,
  };
  if (result.readOnly && result.destructive) {
    throw new ToolDefinitionError('annotations', 'a tool cannot be both readOnly and destructive');
  }
  return result;
}

function checkPermissions(permissions: ToolPermissions | undefined): Required<ToolPermissions> {
  const network = permissions?.network ?? [];
  const secrets = permissions?.secrets ?? [];
  for (const key of Object.keys(permissions ?? {})) {
    if (key !== 'network' && key !== 'secrets') {
      throw new ToolDefinitionError(`permissions.${key}`, 'is not a permission (network, secrets)');
    }
  }
  network.forEach((host, index) => {
    if (typeof host !== 'string' || !/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/.test(host)) {
      throw new ToolDefinitionError(
        `permissions.network[${index}]`,
        `${JSON.stringify(host)} is not a host name; write "api.example.com" or "*.example.com" (no scheme, no path)`,
      );
    }
  });
  secrets.forEach((secret, index) => {
    if (typeof secret !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/.test(secret)) {
      throw new ToolDefinitionError(`permissions.secrets[${index}]`, `${JSON.stringify(secret)} is not a secret name (letters, digits, "_", "." and "-")`);
    }
  });
  return { network: [...new Set(network)], secrets: [...new Set(secrets)] };
}

function checkLimits(limits: ToolLimits | undefined): Required<ToolLimits> {
  const result = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(limits ?? {})) {
    const range = LIMIT_RANGES[key as keyof ToolLimits];
    if (range === undefined) {
      throw new ToolDefinitionError(`limits.${key}`, `is not a limit (${Object.keys(LIMIT_RANGES).join(', ')})`);
    }
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < range[0] || value > range[1]) {
      throw new ToolDefinitionError(`limits.${key}`, `must be an integer from ${range[0]} to ${range[1]}, got ${JSON.stringify(value)}`);
    }
    result[key as keyof ToolLimits] = value;
  }
  return result;
}

function checkRetry(retry: ToolRetryPolicy | undefined, annotations: Required<ToolAnnotations>): Required<ToolRetryPolicy> {
  const result = { maxAttempts: 1, initialBackoffMs: 200, maxBackoffMs: 5000, backoffMultiplier: 2, ...retry };
  if (!Number.isInteger(result.maxAttempts) || result.maxAttempts < 1 || result.maxAttempts > 10) {
    throw new ToolDefinitionError('retry.maxAttempts', `must be an integer from 1 to 10, got ${JSON.stringify(result.maxAttempts)}`);
  }
  if (result.maxAttempts > 1 && !annotations.idempotent) {
    throw new ToolDefinitionError('retry', 'only idempotent tools are retried: set annotations.idempotent to true, or drop retry');
  }
  for (const key of ['initialBackoffMs', 'maxBackoffMs'] as const) {
    if (!Number.isInteger(result[key]) || result[key] < 0 || result[key] > 60_000) {
      throw new ToolDefinitionError(`retry.${key}`, `must be an integer from 0 to 60000, got ${JSON.stringify(result[key])}`);
    }
  }
  if (typeof result.backoffMultiplier !== 'number' || result.backoffMultiplier < 1 || result.backoffMultiplier > 10) {
    throw new ToolDefinitionError('retry.backoffMultiplier', `must be a number from 1 to 10, got ${JSON.stringify(result.backoffMultiplier)}`);
  }
  return result;
}

// The tool-sandbox's bounds on manifest.context_reuse (services/tool-sandbox/src/manifest/tool-manifest.ts).
export const CONTEXT_REUSE_MAX_CALLS = 1000;
export const CONTEXT_REUSE_MAX_IDLE_MS = 300_000;
const CONTEXT_REUSE_DEFAULT_IDLE_MS = 10_000;

/** Checks `contextReuse` with the sandbox's limits; undefined when the tool did not opt in. */
export function checkContextReuse(reuse: ToolContextReuse | undefined): Required<ToolContextReuse> | undefined {
  if (reuse === undefined) return undefined;
  if (typeof reuse !== 'object' || reuse === null || Array.isArray(reuse)) {
    throw new ToolDefinitionError('contextReuse', `must be an object { maxCalls, maxIdleMs? }, got ${JSON.stringify(reuse)}`);
  }
  for (const key of Object.keys(reuse)) {
    if (key !== 'maxCalls' && key !== 'maxIdleMs') throw new ToolDefinitionError(`contextReuse.${key}`, 'is not a context reuse option (maxCalls, maxIdleMs)');
  }
  const { maxCalls, maxIdleMs = CONTEXT_REUSE_DEFAULT_IDLE_MS } = reuse;
  if (!Number.isInteger(maxCalls) || maxCalls < 0 || maxCalls > CONTEXT_REUSE_MAX_CALLS) {
    throw new ToolDefinitionError('contextReuse.maxCalls', `must be an integer between 0 and ${CONTEXT_REUSE_MAX_CALLS}, got ${JSON.stringify(maxCalls)}`);
  }
  if (!Number.isInteger(maxIdleMs) || maxIdleMs < 0 || maxIdleMs > CONTEXT_REUSE_MAX_IDLE_MS) {
    throw new ToolDefinitionError('contextReuse.maxIdleMs', `must be an integer between 0 and ${CONTEXT_REUSE_MAX_IDLE_MS}, got ${JSON.stringify(maxIdleMs)}`);
  }
  return { maxCalls, maxIdleMs };
}
