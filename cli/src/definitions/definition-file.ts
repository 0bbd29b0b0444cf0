import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';

export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
}

/** Reads an agent or chain definition from YAML or JSON (by content: JSON is YAML). */
export function readDefinitionFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DefinitionError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new DefinitionError(`${file} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new DefinitionError(`${file} must hold one mapping (an object)`);
  return value as Record<string, unknown>;
}

/** Parses a JSON argument (tool input, chain input) with an error naming the flag. */
export function parseJsonArgument(flag: string, text: string | undefined, fallback: unknown): unknown {
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DefinitionError(`${flag} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Refuses keys the message does not have, so a typo in a file is not silently dropped. */
export function checkKnownKeys(where: string, value: Record<string, unknown>, known: string[]): void {
  const allowed = new Set(known.flatMap((k) => [k, k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]));
  const unknown = Object.keys(value).filter((k) => !allowed.has(k));
  if (unknown.length) throw new DefinitionError(`${where}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${known.join(', ')})`);
}
