import type { Message } from '@elixirchain/proto/memory';

/** A tool as the model sees it: name, description and JSON Schema of its input. */
export interface ModelToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface ModelRequest {
  model: string;
  instructions: string;
  /** Conversation so far, oldest first (user, assistant with tool calls, tool results). */
  messages: Message[];
  tools: ModelToolSpec[];
  temperature?: number;
  maxOutputTokens?: number;
  parameters?: Record<string, unknown>;
  /** Identifies the call for scripted replay and for logs. */
  context: { agentId: string; threadId: string; turnId: string; callIndex: number };
}

export type ModelEvent =
  | { type: 'textDelta'; text: string }
  | { type: 'toolCall'; id: string; name: string; arguments: Record<string, unknown> }
  | { type: 'usage'; inputTokens: number; outputTokens: number }
  | { type: 'finish'; reason: string };

/**
 * Every model backend streams the same events; the turn engine knows nothing
 * else about it. Each step of the stream is a batch: the events available at
 * that moment, in order (never empty), so events that arrive together (one
 * network chunk, a script without delays) cost one await, not one per delta.
 */
export interface ModelProvider {
  readonly name: string;
  stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<readonly ModelEvent[]>;
}

/** A failure reported by the model endpoint, with the HTTP status when there was one. */
export class ModelError extends Error {
  readonly httpStatus: number;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, httpStatus: number, retryAfterMs?: number) {
    super(message);
    this.name = 'ModelError';
    this.httpStatus = httpStatus;
    this.retryAfterMs = retryAfterMs;
  }

  /** 408, 409, 429 and 5xx are worth another attempt; other 4xx are the caller's mistake. */
  get retryable(): boolean {
    const s = this.httpStatus;
    return s === 408 || s === 409 || s === 429 || s >= 500 || s === 0;
  }
}

/** Raised when the circuit for an endpoint is open: fail fast instead of piling on. */
export class CircuitOpenError extends ModelError {
  constructor(endpoint: string, retryAfterMs: number) {
    super(`model endpoint ${endpoint} is failing; circuit open`, 503, retryAfterMs);
    this.name = 'CircuitOpenError';
  }

  // Retrying into an open circuit only waits out its timer; fail the call now.
  override get retryable(): boolean {
    return false;
  }
}
