import { toJSONSchema, type $ZodType } from 'zod/v4/core';
import { ToolDefinitionError } from './tool-definition-error.js';
import type { JsonSchema } from './tool-types.js';

export const JSON_SCHEMA_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

/** A zod 4 schema or a raw JSON Schema (2020-12) object. */
export type ToolSchema = $ZodType | JsonSchema;

export function isZodSchema(schema: unknown): schema is $ZodType {
  return typeof schema === 'object' && schema !== null && '_zod' in schema;
}

/**
 * Turns a tool's input or output schema into JSON Schema 2020-12, the form
 * the sandbox validates with. Anything that cannot be represented (dates,
 * functions, bigints, transforms without an output type...) is refused here
 * with the field named, rather than silently accepting any value.
 */
export function toJsonSchema(field: 'input' | 'output', schema: unknown): JsonSchema {
  if (schema === undefined || schema === null) {
    throw new ToolDefinitionError(field, 'is required: a zod schema (z.object({...})) or a JSON Schema object');
  }
  let json: JsonSchema;
  if (isZodSchema(schema)) {
    try {
      json = toJSONSchema(schema, {
        target: 'draft-2020-12',
        io: field === 'input' ? 'input' : 'output',
        unrepresentable: 'throw',
        cycles: 'ref',
        reused: 'inline',
      }) as JsonSchema;
    } catch (error) {
      throw new ToolDefinitionError(field, `the zod schema cannot become JSON Schema: ${(error as Error).message}`);
    }
  } else if (typeof schema === 'object' && !Array.isArray(schema)) {
    json = checkRawSchema(field, schema as JsonSchema);
  } else {
    throw new ToolDefinitionError(field, `must be a zod schema or a JSON Schema object, got ${Array.isArray(schema) ? 'an array' : typeof schema}`);
  }
  if (field === 'input' && json.type !== 'object') {
    throw new ToolDefinitionError(
      'input',
      `must describe an object (tools take named arguments), got ${json.type === undefined ? 'a schema without "type": "object"' : `type "${String(json.type)}"`}; wrap it: z.object({ value: ... })`,
    );
  }
  checkPatterns(field, json, '', isZodSchema(schema));
  return { $schema: JSON_SCHEMA_2020_12, ...json };
}

function checkRawSchema(field: string, schema: JsonSchema): JsonSchema {
  let copy: JsonSchema;
  try {
    copy = JSON.parse(JSON.stringify(schema)) as JsonSchema;
  } catch (error) {
    throw new ToolDefinitionError(field, `the JSON Schema is not plain JSON: ${(error as Error).message}`);
  }
  const dialect = copy.$schema;
  if (dialect !== undefined && dialect !== JSON_SCHEMA_2020_12 && dialect !== `${JSON_SCHEMA_2020_12}#`) {
    throw new ToolDefinitionError(field, `"$schema" is ${JSON.stringify(dialect)}; tools use JSON Schema 2020-12 (${JSON_SCHEMA_2020_12})`);
  }
  if (copy.definitions !== undefined) {
    throw new ToolDefinitionError(field, '"definitions" is a draft-07 keyword; JSON Schema 2020-12 uses "$defs"');
  }
  return copy;
}

// The sandbox refuses patterns that need backtracking (backreferences,
// lookarounds) because they run on the host; say so at definition time.
function checkPatterns(field: string, schema: unknown, path = '', fromZod = false): void {
  if (Array.isArray(schema)) {
    schema.forEach((item, index) => checkPatterns(field, item, `${path}/${index}`, fromZod));
    return;
  }
  if (typeof schema !== 'object' || schema === null) return;
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'pattern' && typeof value === 'string') {
      if (/\\[1-9]|\\k<|\(\?<?[=!]/.test(value)) {
        const hint = fromZod
          ? ' (zod writes such patterns for checks like z.hostname() and z.emoji(); use z.string().refine(...) instead: refinements run inside the sandbox)'
          : '';
        throw new ToolDefinitionError(field, `pattern at ${path || '/'} uses a backreference or lookaround, which the sandbox refuses${hint}: ${value}`);
      }
      try {
        new RegExp(value, 'u');
      } catch (error) {
        throw new ToolDefinitionError(field, `pattern at ${path || '/'} is not a valid regular expression: ${(error as Error).message}`);
      }
    } else if (key === 'patternProperties' && typeof value === 'object' && value !== null) {
      for (const [pattern, sub] of Object.entries(value)) {
        checkPatterns(field, { pattern }, `${path}/patternProperties`, fromZod);
        checkPatterns(field, sub, `${path}/patternProperties/${pattern}`, fromZod);
      }
    } else if (key !== 'const' && key !== 'enum' && key !== 'default' && key !== 'examples') {
      checkPatterns(field, value, `${path}/${key}`, fromZod);
    }
  }
}
