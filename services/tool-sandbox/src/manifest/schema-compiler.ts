import { setFlagsFromString } from 'node:v8';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FieldViolation } from '@elixirchain/runtime';

// ajv runs a manifest's `pattern`s in this process, outside every isolate
// limit. With this flag V8 falls back to its linear-time engine when a regex
// backtracks excessively; we refuse the constructs that engine cannot run.
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** Backreferences (\1, \k<name>) and lookarounds ((?=, (?!, (?<=, (?<!). */
const UNSAFE_REGEX = /\\[1-9]|\\k<|\(\?<?[=!]/;
const MAX_PATTERN_LENGTH = 1000;

export type SchemaValidator = (value: unknown) => FieldViolation[];

/** Walks a schema and reports every regular expression we will not run. */
function patternProblems(schema: unknown, path: string, out: FieldViolation[]): void {
  if (Array.isArray(schema)) {
    schema.forEach((item, i) => patternProblems(item, `${path}/${i}`, out));
    return;
  }
  if (schema === null || typeof schema !== 'object') return;
  for (const [key, value] of Object.entries(schema)) {
    const at = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (key === 'pattern' && typeof value === 'string') checkPattern(value, at, out);
    if (key === 'patternProperties' && value !== null && typeof value === 'object') {
      for (const p of Object.keys(value)) checkPattern(p, `${at}/${p}`, out);
    }
    patternProblems(value, at, out);
  }
}

function checkPattern(pattern: string, at: string, out: FieldViolation[]): void {
  if (pattern.length > MAX_PATTERN_LENGTH) out.push({ field: at, description: `patterns are limited to ${MAX_PATTERN_LENGTH} characters` });
  else if (UNSAFE_REGEX.test(pattern)) out.push({ field: at, description: 'backreferences and lookarounds are not allowed in patterns' });
  else {
    try {
      new RegExp(pattern);
    } catch {
      out.push({ field: at, description: 'not a valid regular expression' });
    }
  }
}

function violationsOf(errors: ErrorObject[] | null | undefined): FieldViolation[] {
  return (errors ?? []).slice(0, 10).map((e) => {
    let pointer = e.instancePath || '';
    if (e.keyword === 'required' && typeof e.params.missingProperty === 'string') pointer += `/${e.params.missingProperty}`;
    if (e.keyword === 'additionalProperties' && typeof e.params.additionalProperty === 'string') pointer += `/${e.params.additionalProperty}`;
    return { field: pointer || '/', description: e.message ?? 'is invalid' };
  });
}

/** Compiles tool input/output schemas (JSON Schema 2020-12) into validators. */
export class SchemaCompiler {
  private readonly ajv: Ajv2020;

  constructor() {
    this.ajv = new Ajv2020({
      allErrors: false,
      strict: false,
      unicodeRegExp: false,
      validateSchema: true,
      addUsedSchema: false,
    });
    addFormats(this.ajv);
  }

  /** Problems with the schema itself, as violations under `field`. */
  check(schema: unknown, field: string): FieldViolation[] {
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      return [{ field, description: 'must be a JSON Schema object' }];
    }
    const out: FieldViolation[] = [];
    patternProblems(schema, field, out);
    if (out.length > 0) return out;
    const s = schema as Record<string, unknown>;
    if (s.$schema !== undefined && s.$schema !== 'https://json-schema.org/draft/2020-12/schema') {
      return [{ field: `${field}/$schema`, description: 'only JSON Schema 2020-12 is supported' }];
    }
    if (!this.ajv.validateSchema(s)) {
      return (this.ajv.errors ?? []).slice(0, 10).map((e) => ({ field: `${field}${e.instancePath}`, description: e.message ?? 'invalid schema' }));
    }
    return [];
  }

  compile(schema: Record<string, unknown>): SchemaValidator {
    const { $id: _ignored, ...rest } = schema;
    const validate: ValidateFunction = this.ajv.compile(rest);
    return (value) => (validate(value) ? [] : violationsOf(validate.errors));
  }
}
