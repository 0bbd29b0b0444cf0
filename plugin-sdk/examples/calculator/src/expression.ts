// A small recursive-descent evaluator: numbers, + - * / % ^, parentheses,
// unary minus, constants and a few functions. Never eval(): the input comes
// from a model.

import { ToolInputError } from '@elixirchain/plugin-sdk';

/** An expression the calculator cannot evaluate: the caller's input is at fault (INVALID_ARGUMENT). */
export class ExpressionError extends ToolInputError {
  override readonly name = 'ExpressionError';

  constructor(message: string) {
    super(message, 'expression');
  }
}

const FUNCTIONS: Record<string, (...args: number[]) => number> = {
  sqrt: Math.sqrt,
  abs: Math.abs,
  round: Math.round,
  floor: Math.floor,
  ceil: Math.ceil,
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  ln: Math.log,
  log: Math.log10,
  exp: Math.exp,
  min: Math.min,
  max: Math.max,
};

const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E };

type Token = { kind: 'number'; value: number } | { kind: 'name'; value: string } | { kind: 'op'; value: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (/[0-9.]/.test(ch)) {
      const match = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?/i.exec(source.slice(i));
      if (!match) throw new ExpressionError(`bad number at position ${i + 1}`);
      tokens.push({ kind: 'number', value: Number(match[0]) });
      i += match[0].length;
    } else if (/[a-z]/i.test(ch)) {
      const match = /^[a-z]+/i.exec(source.slice(i))!;
      tokens.push({ kind: 'name', value: match[0].toLowerCase() });
      i += match[0].length;
    } else if ('+-*/%^(),'.includes(ch)) {
      tokens.push({ kind: 'op', value: ch });
      i++;
    } else {
      throw new ExpressionError(`unexpected "${ch}" at position ${i + 1}`);
    }
  }
  return tokens;
}

export function evaluate(source: string): number {
  const tokens = tokenize(source);
  let position = 0;
  const peek = () => tokens[position];
  const take = (op: string) => {
    const token = tokens[position];
    if (token?.kind === 'op' && token.value === op) {
      position++;
      return true;
    }
    return false;
  };

  // expression := term (('+' | '-') term)*
  function expression(): number {
    let value = term();
    for (;;) {
      if (take('+')) value += term();
      else if (take('-')) value -= term();
      else return value;
    }
  }
  // term := power (('*' | '/' | '%') power)*
  function term(): number {
    let value = power();
    for (;;) {
      if (take('*')) value *= power();
      else if (take('/')) {
        const divisor = power();
        if (divisor === 0) throw new ExpressionError('division by zero');
        value /= divisor;
      } else if (take('%')) value %= power();
      else return value;
    }
  }
  // power := unary ('^' power)?   (right-associative)
  function power(): number {
    const base = unary();
    return take('^') ? base ** power() : base;
  }
  function unary(): number {
    if (take('-')) return -unary();
    if (take('+')) return unary();
    return primary();
  }
  function primary(): number {
    const token = peek();
    if (token === undefined) throw new ExpressionError('the expression ends too early');
    position++;
    if (token.kind === 'number') return token.value;
    if (token.kind === 'op' && token.value === '(') {
      const value = expression();
      if (!take(')')) throw new ExpressionError('missing ")"');
      return value;
    }
    if (token.kind === 'name') {
      if (token.value in CONSTANTS) return CONSTANTS[token.value]!;
      const fn = FUNCTIONS[token.value];
      if (!fn) throw new ExpressionError(`unknown name "${token.value}"`);
      if (!take('(')) throw new ExpressionError(`${token.value} needs "("`);
      const args = [expression()];
      while (take(',')) args.push(expression());
      if (!take(')')) throw new ExpressionError(`missing ")" after ${token.value}(...)`);
      return fn(...args);
    }
    throw new ExpressionError(`unexpected "${token.value}"`);
  }

  const value = expression();
  if (position < tokens.length) throw new ExpressionError(`unexpected "${String(tokens[position]!.value)}" after the expression`);
  if (!Number.isFinite(value)) throw new ExpressionError('the result is not a finite number');
  return value;
}
