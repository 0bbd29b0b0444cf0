import { createHash } from 'node:crypto';
import semver from 'semver';
import { errors, type FieldViolation } from '@elixirchain/runtime';
import type { ToolManifest } from '@elixirchain/proto/sandbox';
import type { OperatorLimits } from '../config/operator-limits.js';
import { hostPatternProblem, normalizePermissions, secretNameProblem, type PermissionSet } from '../permissions/permission-set.js';
import type { SchemaCompiler, SchemaValidator } from './schema-compiler.js';

const TOOL_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const KNOWN_PERMISSION_KINDS = new Set(['networkHosts', 'secrets']);

export interface ResolvedLimits {
  memoryMb: number;
  timeoutMs: number;
  cpuTimeMs: number;
  maxOutputBytes: number;
  maxEvents: number;
}

export interface ResolvedRetry {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
}

/** The manifest's opt-in to reuse a warm context across calls (see ContextReuse in the proto). */
export interface ResolvedContextReuse {
  maxCalls: number;
  maxIdleMs: number;
}

/** Bounds on ContextReuse: a kept context serves at most this many calls and idles at most this long. */
export const CONTEXT_REUSE_MAX_CALLS = 1000;
export const CONTEXT_REUSE_MAX_IDLE_MS = 300_000;
const CONTEXT_REUSE_DEFAULT_IDLE_MS = 10_000;

/** A manifest after validation: defaults filled in, permissions normalised. */
export interface ResolvedManifest {
  manifest: ToolManifest;
  permissions: PermissionSet;
  limits: ResolvedLimits;
  retry: ResolvedRetry;
  idempotent: boolean;
  /** Absent: a fresh context for every call (the default). */
  contextReuse?: ResolvedContextReuse;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const durationMs = (d: { seconds: number; nanos: number } | undefined) => (d ? d.seconds * 1000 + Math.round(d.nanos / 1e6) : 0);

export function validToolName(name: string): boolean {
  return TOOL_NAME.test(name);
}

/**
 * Validates a manifest and its bundle against the operator's maxima. Throws
 * INVALID_ARGUMENT naming every bad field (paths like `manifest.limits.memory_mb`).
 */
export function resolveManifest(
  manifest: ToolManifest | undefined,
  bundle: Uint8Array,
  operator: OperatorLimits,
  schemas: SchemaCompiler,
): ResolvedManifest {
  const v: FieldViolation[] = [];
  if (!manifest) throw errors.invalidArgument('manifest', 'is required');
  if (!TOOL_NAME.test(manifest.name)) v.push({ field: 'manifest.name', description: 'lowercase letters, digits, "_" and "-", starting with a letter, at most 64 characters' });
  if (!semver.valid(manifest.version) || manifest.version.length > 64) v.push({ field: 'manifest.version', description: 'must be a semantic version such as 1.2.0' });
  if (manifest.description.length > 4096) v.push({ field: 'manifest.description', description: 'at most 4096 characters' });
  if (bundle.length === 0) v.push({ field: 'bundle', description: 'is required' });
  if (bundle.length > operator.maxBundleBytes) v.push({ field: 'bundle', description: `is larger than the operator's maximum of ${operator.maxBundleBytes} bytes` });
  if (!SHA256_HEX.test(manifest.bundleSha256)) v.push({ field: 'manifest.bundle_sha256', description: 'must be the lowercase hex sha256 of the bundle' });
  else if (bundle.length > 0 && sha256Hex(bundle) !== manifest.bundleSha256) v.push({ field: 'manifest.bundle_sha256', description: 'does not match the sha256 of the bundle' });

  for (const [field, schema] of [['manifest.input_schema', manifest.inputSchema], ['manifest.output_schema', manifest.outputSchema]] as const) {
    if (schema === undefined) continue;
    v.push(...schemas.check(schema, field));
    if (v.length === 0) {
      try {
        schemas.compile(schema);
      } catch (error) {
        v.push({ field, description: `does not compile: ${(error as Error).message.slice(0, 300)}` });
      }
    }
  }
  if (manifest.inputSchema && manifest.inputSchema.type !== undefined && manifest.inputSchema.type !== 'object') {
    v.push({ field: 'manifest.input_schema/type', description: 'the input of a tool is an object' });
  }

  const asked = manifest.permissions ?? { networkHosts: [], secrets: [] };
  for (const kind of Object.keys(asked)) {
    if (!KNOWN_PERMISSION_KINDS.has(kind)) v.push({ field: `manifest.permissions.${kind}`, description: 'unknown permission kind' });
  }
  asked.networkHosts.forEach((h, i) => {
    const problem = hostPatternProblem(h.trim().toLowerCase().replace(/\.$/, ''));
    if (problem) v.push({ field: `manifest.permissions.network_hosts[${i}]`, description: problem });
  });
  asked.secrets.forEach((s, i) => {
    const problem = secretNameProblem(s.trim());
    if (problem) v.push({ field: `manifest.permissions.secrets[${i}]`, description: problem });
  });

  const l = manifest.limits;
  const limit = (value: number | undefined, fallback: number, max: number, field: string, min = 1): number => {
    if (value === undefined || value === 0) return Math.min(fallback, max);
    if (!Number.isInteger(value) || value < min) v.push({ field: `manifest.limits.${field}`, description: `must be a whole number of at least ${min}` });
    else if (value > max) v.push({ field: `manifest.limits.${field}`, description: `exceeds the operator's maximum of ${max}` });
    return value;
  };
  const timeoutMs = limit(l?.timeoutMs, operator.defaultTimeoutMs, operator.maxTimeoutMs, 'timeout_ms', 10);
  const limits: ResolvedLimits = {
    memoryMb: limit(l?.memoryMb, operator.defaultMemoryMb, operator.maxMemoryMb, 'memory_mb', 8),
    timeoutMs,
    cpuTimeMs: limit(l?.cpuTimeMs, timeoutMs, operator.maxCpuTimeMs, 'cpu_time_ms', 10),
    maxOutputBytes: limit(l?.maxOutputBytes, operator.defaultOutputBytes, operator.maxOutputBytes, 'max_output_bytes', 2),
    maxEvents: limit(l?.maxEvents, operator.defaultEvents, operator.maxEvents, 'max_events', 1),
  };

  const r = manifest.retry;
  const retry: ResolvedRetry = {
    maxAttempts: Math.max(1, r?.maxAttempts ?? 1),
    initialBackoffMs: durationMs(r?.initialBackoff) || 100,
    maxBackoffMs: durationMs(r?.maxBackoff) || 5000,
    multiplier: r?.backoffMultiplier || 2,
  };
  if (r && (r.maxAttempts < 0 || r.maxAttempts > operator.maxRetryAttempts)) {
    v.push({ field: 'manifest.retry.max_attempts', description: `must be between 0 and the operator's maximum of ${operator.maxRetryAttempts}` });
  }
  if (r && (r.backoffMultiplier < 0 || r.backoffMultiplier > 10)) v.push({ field: 'manifest.retry.backoff_multiplier', description: 'must be between 1 and 10' });
  if (retry.initialBackoffMs < 0 || retry.maxBackoffMs < 0 || retry.maxBackoffMs > 60_000) v.push({ field: 'manifest.retry', description: 'backoffs must be between 0 and 60 s' });
  const idempotent = manifest.annotations?.idempotent === true;
  if (retry.maxAttempts > 1 && !idempotent) {
    v.push({ field: 'manifest.retry.max_attempts', description: 'only tools annotated idempotent may be retried' });
  }

  let contextReuse: ResolvedContextReuse | undefined;
  const reuse = manifest.contextReuse;
  if (reuse && (reuse.maxCalls !== 0 || reuse.maxIdleMs !== 0)) {
    if (!Number.isInteger(reuse.maxCalls) || reuse.maxCalls < 0 || reuse.maxCalls > CONTEXT_REUSE_MAX_CALLS) {
      v.push({ field: 'manifest.context_reuse.max_calls', description: `must be between 0 and ${CONTEXT_REUSE_MAX_CALLS}` });
    }
    if (!Number.isInteger(reuse.maxIdleMs) || reuse.maxIdleMs < 0 || reuse.maxIdleMs > CONTEXT_REUSE_MAX_IDLE_MS) {
      v.push({ field: 'manifest.context_reuse.max_idle_ms', description: `must be between 0 and ${CONTEXT_REUSE_MAX_IDLE_MS}` });
    }
    if (reuse.maxCalls > 1) contextReuse = { maxCalls: reuse.maxCalls, maxIdleMs: reuse.maxIdleMs || CONTEXT_REUSE_DEFAULT_IDLE_MS };
  }

  if (v.length > 0) throw errors.invalidArguments(v, 'INVALID_MANIFEST');
  return { manifest, permissions: normalizePermissions(asked), limits, retry, idempotent, contextReuse };
}

/** Validators for a version's schemas, compiled once per version. */
export interface CompiledSchemas {
  input?: SchemaValidator;
  output?: SchemaValidator;
}

export function compileSchemas(manifest: ToolManifest, schemas: SchemaCompiler): CompiledSchemas {
  return {
    input: manifest.inputSchema ? schemas.compile(manifest.inputSchema) : undefined,
    output: manifest.outputSchema ? schemas.compile(manifest.outputSchema) : undefined,
  };
}
