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

const DURATION_KEYS = new Set(['timeout', 'turnTimeout', 'turn_timeout', 'initialBackoff', 'initial_backoff', 'maxBackoff', 'max_backoff', 'delay', 'duration']);
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Writes durations as people do ("120s", "1.5s", "500ms", "2m") in
 * google.protobuf.Duration fields; the generated fromJSON only reads
 * {seconds, nanos} and would silently make them zero.
 */
export function normaliseDurations<T>(value: T, where = ''): T {
  if (Array.isArray(value)) return value.map((v, i) => normaliseDurations(v, `${where}[${i}]`)) as T;
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const path = where ? `${where}.${key}` : key;
    if (DURATION_KEYS.has(key) && (typeof v === 'string' || typeof v === 'number')) out[key] = parseDuration(path, v);
    else out[key] = normaliseDurations(v, path);
  }
  return out as T;
}

function parseDuration(path: string, value: string | number): { seconds: number; nanos: number } {
  const match = typeof value === 'number' ? ['', String(value), 's'] : /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  if (!match) throw new DefinitionError(`${path}: "${value}" is not a duration (e.g. "30s", "500ms", "2m")`);
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}
