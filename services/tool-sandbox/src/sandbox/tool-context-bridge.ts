import type { EffectiveGrant } from '../permissions/permission-set.js';
import { FetchRefused, type FetchGuard, type GuardedRequest } from '../network/fetch-guard.js';
import type { SecretRedactor } from '../secrets/secret-redactor.js';

export type BridgeEvent =
  | { type: 'progress'; fraction: number; message: string }
  | { type: 'log'; level: string; message: string }
  | { type: 'partial'; data: unknown };

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);
const MAX_MESSAGE = 8192;

export interface ToolContextBridgeOptions {
  grant: EffectiveGrant;
  fetchGuard: FetchGuard;
  redactor: SecretRedactor;
  /** Aborted when the attempt ends or is cancelled: in-flight fetches stop. */
  signal: AbortSignal;
  emit: (event: BridgeEvent) => void;
  /** A ctx call was refused for lack of permission (for the service's log). */
  onDenied?: (what: string) => void;
}

const clip = (s: string) => (s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE)}…` : s);

/**
 * The host side of `ctx` for one attempt. Everything from the worker is an
 * untrusted JSON string: parsed, type-checked, redacted, then acted on.
 */
export class ToolContextBridge {
  constructor(private readonly options: ToolContextBridgeOptions) {}

  /** A log, progress or partial event; malformed ones are dropped. */
  onEvent(op: string, json: string): void {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const v = value as Record<string, unknown>;
    const { redactor } = this.options;
    if (op === 'log') {
      const level = typeof v.level === 'string' && LEVELS.has(v.level) ? v.level : 'info';
      const message = typeof v.message === 'string' ? v.message : '';
      this.options.emit({ type: 'log', level, message: redactor.redact(clip(message)) });
    } else if (op === 'progress') {
      const fraction = typeof v.fraction === 'number' && Number.isFinite(v.fraction) ? Math.min(1, v.fraction) : -1;
      const message = typeof v.message === 'string' ? v.message : '';
      this.options.emit({ type: 'progress', fraction, message: redactor.redact(clip(message)) });
    } else if (op === 'partial') {
      this.options.emit({ type: 'partial', data: redactor.redactValue(v.data ?? null) });
    }
  }

  /** A request needing an answer; `reply` gets the JSON the isolate expects. */
  onRequest(op: string, json: string, reply: (json: string) => void): void {
    if (op !== 'fetch') {
      reply(JSON.stringify({ error: { code: 'INVALID_ARGUMENT', message: 'unknown request' } }));
      return;
    }
    this.fetch(json).then(reply, () => reply(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'the request failed' } })));
  }

  private async fetch(json: string): Promise<string> {
    const fail = (code: string, message: string) => JSON.stringify({ error: { code, message: this.options.redactor.redact(message) } });
    let request: GuardedRequest;
    try {
      const raw = JSON.parse(json) as Record<string, unknown>;
      if (typeof raw.url !== 'string' || typeof raw.method !== 'string' || !Array.isArray(raw.headers)) throw new Error('shape');
      const headers: Array<[string, string]> = [];
      for (const pair of raw.headers as unknown[]) {
        if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') throw new Error('header');
        headers.push([pair[0], pair[1]]);
      }
      if (raw.body !== null && typeof raw.body !== 'string') throw new Error('body');
      request = { url: raw.url, method: raw.method, headers, body: raw.body as string | null };
    } catch {
      return fail('INVALID_ARGUMENT', 'malformed fetch request');
    }
    try {
      const response = await this.options.fetchGuard.fetch(request, this.options.grant, this.options.signal);
      return JSON.stringify({ value: response });
    } catch (error) {
      if (error instanceof FetchRefused) {
        if (error.code === 'PERMISSION_DENIED') this.options.onDenied?.(`fetch refused: ${error.message}`);
        return fail(error.code, error.message);
      }
      return fail('UNAVAILABLE', 'the request failed');
    }
  }
}
