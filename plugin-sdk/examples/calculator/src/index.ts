import { z } from 'zod';
import { defineTool } from '@elixirchain/plugin-sdk';
import { evaluate } from './expression.js';

export default defineTool({
  name: 'calculator',
  version: '1.0.0',
  description:
    'Evaluates an arithmetic expression exactly as written: + - * / % ^, parentheses, pi, e, and sqrt, abs, round, floor, ceil, sin, cos, tan, ln, log, exp, min, max. Use it instead of doing arithmetic in your head.',
  input: z.object({
    expression: z.string().min(1).max(1000).describe('e.g. "(2 + 3) * 4" or "sqrt(2) ^ 2"'),
    precision: z.number().int().min(0).max(15).default(10).describe('significant digits to round the result to'),
  }),
  output: z.object({
    expression: z.string(),
    value: z.number(),
  }),
  annotations: { readOnly: true, idempotent: true },
  limits: { memoryMb: 16, timeoutMs: 1000 },
  execute({ expression, precision }) {
    const value = Number(evaluate(expression).toPrecision(precision));
    return { expression, value };
  },
});
