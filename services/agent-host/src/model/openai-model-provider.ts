import OpenAI, { APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import type { Message } from '@elixirchain/proto/memory';
import { Role } from '@elixirchain/proto/memory';
import type { ModelEvent, ModelProvider, ModelRequest } from './model-provider.js';
import { ModelError } from './model-provider.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { CircuitBreakerRegistry } from './circuit-breaker.js';
import { RetryingModelProvider } from './retrying-model-provider.js';
import { defaultModelRetryPolicy, parseRetryAfter, type RetryPolicy } from './retry-policy.js';

export interface OpenAIModelProviderOptions {
  apiKey: string;
  /** Any OpenAI-compatible endpoint (vLLM, Ollama, LM Studio); defaults to api.openai.com. */
  baseURL?: string;
  retry?: RetryPolicy;
  breakers?: CircuitBreakerRegistry;
  /** Per attempt, until the first byte. */
  timeoutMs?: number;
}

/**
 * Streaming chat completions with function calling. Retries (backoff with
 * jitter, Retry-After honoured) wrap single attempts, and each attempt passes
 * through the endpoint's circuit breaker.
 */
export class OpenAIModelProvider implements ModelProvider {
  readonly name = 'openai';
  readonly endpoint: string;
  private readonly client: OpenAI;
  private readonly breaker: CircuitBreaker;
  private readonly retrying: RetryingModelProvider;

  constructor(options: OpenAIModelProviderOptions) {
    this.endpoint = (options.baseURL ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
    this.client = new OpenAI({ apiKey: options.apiKey, baseURL: this.endpoint, maxRetries: 0, timeout: options.timeoutMs ?? 120_000 });
    this.breaker = (options.breakers ?? new CircuitBreakerRegistry()).forEndpoint(this.endpoint);
    this.retrying = new RetryingModelProvider({ name: 'openai', stream: (r, s) => this.attempt(r, s) }, options.retry ?? defaultModelRetryPolicy);
  }

  stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<readonly ModelEvent[]> {
    return this.retrying.stream(request, signal);
  }

  private async *attempt(request: ModelRequest, signal: AbortSignal): AsyncIterable<readonly ModelEvent[]> {
    this.breaker.acquire();
    const calls = new Map<number, { id: string; name: string; args: string }>();
    let finishReason = 'stop';
    let usage: { inputTokens: number; outputTokens: number } | undefined;
    try {
      const stream = await this.client.chat.completions.create(
        {
          ...(request.parameters ?? {}),
          model: request.model || 'gpt-4o-mini',
          messages: toOpenAIMessages(request),
          ...(request.tools.length > 0 ? { tools: request.tools.map(toOpenAITool) } : {}),
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          ...(request.maxOutputTokens ? { max_completion_tokens: request.maxOutputTokens } : {}),
          stream: true,
          stream_options: { include_usage: true },
        },
        { signal },
      );
      for await (const chunk of stream) {
        if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens ?? 0, outputTokens: chunk.usage.completion_tokens ?? 0 };
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        const text = choice.delta?.content;
        if (text) yield [{ type: 'textDelta', text }];
        if (signal.aborted) break;
        for (const part of choice.delta?.tool_calls ?? []) {
          const call = calls.get(part.index) ?? { id: '', name: '', args: '' };
          if (part.id) call.id = part.id;
          if (part.function?.name) call.name += part.function.name;
          if (part.function?.arguments) call.args += part.function.arguments;
          calls.set(part.index, call);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
      // The SDK ends the iteration quietly on abort; a cancelled call must not look finished.
      if (signal.aborted) throw signal.reason ?? new APIUserAbortError();
    } catch (error) {
      const mapped = toModelError(error, signal);
      if (mapped instanceof ModelError && mapped.retryable) this.breaker.recordFailure();
      else if (!signal.aborted) this.breaker.recordSuccess();
      throw mapped;
    }
    this.breaker.recordSuccess();
    const last: ModelEvent[] = [];
    for (const [index, call] of [...calls.entries()].sort((a, b) => a[0] - b[0])) {
      last.push({ type: 'toolCall', id: call.id || `call_${request.context.turnId}_${request.context.callIndex}_${index}`, name: call.name, arguments: parseArguments(call.args) });
    }
    if (usage) last.push({ type: 'usage', ...usage });
    last.push({ type: 'finish', reason: finishReason });
    yield last;
  }
}

function parseArguments(raw: string): Record<string, unknown> {
  if (!raw.trim()) return {};
  try {
    const value: unknown = JSON.parse(raw);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  } catch {
    // The model produced invalid JSON; the tool's schema validation will say so.
    return { _unparsed: raw };
  }
}

function toModelError(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted || error instanceof APIUserAbortError) return signal.reason ?? error;
  if (error instanceof APIError) {
    const status = error.status ?? 0;
    return new ModelError(`model endpoint answered ${status || 'with a connection error'}: ${error.message}`, status, parseRetryAfter(error.headers));
  }
  if (error instanceof ModelError) return error;
  // Network failures mid-stream (reset, parse errors) count as an unavailable endpoint.
  return new ModelError(`model stream failed: ${(error as Error)?.message ?? String(error)}`, 0);
}

function toOpenAITool(tool: { name: string; description: string; parameters: Record<string, unknown> }): ChatCompletionTool {
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } };
}

export function toOpenAIMessages(request: ModelRequest): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  if (request.instructions) out.push({ role: 'system', content: request.instructions });
  for (const m of request.messages) out.push(toOpenAIMessage(m));
  return out;
}

function toOpenAIMessage(m: Message): ChatCompletionMessageParam {
  switch (m.role) {
    case Role.ROLE_SYSTEM:
      return { role: 'system', content: m.content };
    case Role.ROLE_ASSISTANT:
      return {
        role: 'assistant',
        content: m.content || null,
        ...(m.toolCalls.length > 0
          ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: JSON.stringify(c.arguments ?? {}) } })) }
          : {}),
      };
    case Role.ROLE_TOOL:
      return { role: 'tool', tool_call_id: m.toolCallId, content: m.content || JSON.stringify(m.toolResult ?? null) };
    default:
      return { role: 'user', content: m.content };
  }
}
