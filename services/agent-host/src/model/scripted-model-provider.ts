import type { ModelConfig, ScriptedResponse } from '@elixirchain/proto/agent';
import type { Message } from '@elixirchain/proto/memory';
import { Role } from '@elixirchain/proto/memory';
import type { ModelEvent, ModelProvider, ModelRequest, ModelToolSpec } from './model-provider.js';
import { ModelError } from './model-provider.js';
import { sleep } from './retry-policy.js';

/** Thrown for a scripted error with http_status 0: an unexpected fault, as a bug would raise. */
export class ScriptedCrash extends Error {
  constructor(message: string) {
    super(message || 'scripted crash');
    this.name = 'ScriptedCrash';
  }
}

/**
 * Replays ModelConfig.script offline: the i-th model call of a turn gets
 * script[i] (the last repeats). A scripted error fires once per turn, call
 * and position, so a retry or a restart gets past it the way a transient
 * failure would. Without a script it plays a sensible demo: call the first
 * tool with arguments taken from the message, then answer with the result.
 */
export class ScriptedModelProvider implements ModelProvider {
  readonly name = 'scripted';
  private readonly raised = new Set<string>();

  constructor(private readonly config: () => ModelConfig | undefined = () => undefined) {}

  /** A provider bound to one agent's script. */
  static forConfig(config: ModelConfig | undefined, shared?: ScriptedModelProvider): ModelProvider {
    const base = shared ?? new ScriptedModelProvider();
    return {
      name: 'scripted',
      stream: (request, signal) => base.play(config, request, signal),
    };
  }

  stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<readonly ModelEvent[]> {
    return this.play(this.config(), request, signal);
  }

  /**
   * Events between two delays go out as one batch: a script without delays
   * (the benchmarks' zero-latency model) is one batch per model call. Events
   * before a scripted error still reach the turn first, as they would have
   * streamed before the endpoint failed.
   */
  async *play(config: ModelConfig | undefined, request: ModelRequest, signal: AbortSignal): AsyncIterable<readonly ModelEvent[]> {
    const script = config?.script ?? [];
    const response = script.length > 0 ? script[Math.min(request.context.callIndex, script.length - 1)] : defaultResponse(request);
    const inputTokens = estimateTokens(request.instructions) + request.messages.reduce((n, m) => n + estimateTokens(messageText(m)), 0);
    let outputChars = 0;
    let calledTools = false;
    let batch: ModelEvent[] = [];
    const events = response?.events ?? [];
    for (let index = 0; index < events.length; index++) {
      const event = events[index];
      if (signal.aborted) throw signal.reason ?? new Error('aborted');
      const delayMs = event.delay ? event.delay.seconds * 1000 + event.delay.nanos / 1e6 : 0;
      if (delayMs > 0) {
        if (batch.length > 0) {
          yield batch;
          batch = [];
        }
        await sleep(delayMs, signal);
      }
      const body = event.event;
      if (!body) continue;
      if (body.$case === 'text') {
        const size = event.chunkSize > 0 ? event.chunkSize : body.text.length || 1;
        for (let i = 0; i < body.text.length; i += size) {
          const text = body.text.slice(i, i + size);
          outputChars += text.length;
          batch.push({ type: 'textDelta', text });
        }
      } else if (body.$case === 'toolCall') {
        calledTools = true;
        const call = body.toolCall;
        const id = call.id || `call_${request.context.turnId}_${request.context.callIndex}_${index}`;
        outputChars += JSON.stringify(call.arguments ?? {}).length;
        batch.push({ type: 'toolCall', id, name: call.name, arguments: call.arguments ?? {} });
      } else {
        const key = `${request.context.threadId}/${request.context.turnId}/${request.context.callIndex}/${index}`;
        if (this.raised.has(key)) continue;
        if (this.raised.size > 100_000) this.raised.clear();
        this.raised.add(key);
        if (batch.length > 0) yield batch;
        if (body.error.httpStatus === 0) throw new ScriptedCrash(body.error.message);
        throw new ModelError(body.error.message || `scripted HTTP ${body.error.httpStatus}`, body.error.httpStatus);
      }
    }
    batch.push({ type: 'usage', inputTokens, outputTokens: Math.ceil(outputChars / 4) });
    batch.push({ type: 'finish', reason: calledTools ? 'tool_calls' : 'stop' });
    yield batch;
  }
}

function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function messageText(message: Message): string {
  return message.content + (message.toolResult !== undefined ? JSON.stringify(message.toolResult) : '');
}

/** The offline demo: tool first (when the agent has one), then a reply that uses its result. */
function defaultResponse(request: ModelRequest): ScriptedResponse {
  const messages = request.messages;
  const last = messages[messages.length - 1];
  const lastUser = [...messages].reverse().find((m) => m.role === Role.ROLE_USER);
  const userText = lastUser?.content ?? '';
  const text = (value: string) => ({ events: [{ chunkSize: 0, event: { $case: 'text' as const, text: value } }] });
  const words = (value: string) => ({
    events: value.split(/(?<= )/).map((word) => ({ chunkSize: 0, event: { $case: 'text' as const, text: word } })),
  });
  if (last?.role === Role.ROLE_TOOL) {
    const results = [];
    for (let i = messages.length - 1; i >= 0 && messages[i].role === Role.ROLE_TOOL; i--) results.unshift(messages[i]);
    const summary = results
      .map((m) => `${m.name} ${m.isError ? 'failed' : 'returned'} ${JSON.stringify(m.toolResult ?? m.content)}`)
      .join('; ');
    return words(`I used my tools for "${userText}": ${summary}.`);
  }
  const tool = request.tools[0];
  if (tool && last?.role === Role.ROLE_USER) {
    return {
      events: [
        { chunkSize: 0, event: { $case: 'text', text: `Let me use ${tool.name}. ` } },
        { chunkSize: 0, event: { $case: 'toolCall', toolCall: { name: tool.name, id: '', arguments: argumentsFor(tool, userText) } } },
      ],
    };
  }
  if (!userText) return text('Hello! How can I help?');
  return words(`You said: ${userText}`);
}

/** A string field that wants a formula, not prose (a calculator's `expression`). */
const ARITHMETIC_FIELD = /^(expression|expr|formula|equation|calculation|math|arithmetic)$/i;
const ARITHMETIC_TOOL = /\b(calculat\w*|arithmetic|math\w*|evaluat\w*)\b/i;

/** The longest run of digits, operators, parentheses and spaces holding a digit: "what is 2+3?" → "2+3". */
export function arithmeticIn(text: string): string | undefined {
  let best: string | undefined;
  for (const run of text.match(/[\d.+\-*/%^()\s]+/g) ?? []) {
    const candidate = run.trim();
    if (/\d/.test(candidate) && candidate.length > (best?.length ?? 0)) best = candidate;
  }
  return best;
}

/**
 * Fills the tool's input schema from the user's words: strings get the text
 * (a formula field of a calculator-like tool only its arithmetic), numbers
 * the first number in it.
 */
export function argumentsFor(tool: ModelToolSpec, userText: string): Record<string, unknown> {
  const schema = tool.parameters as { properties?: Record<string, { type?: string | string[] }>; required?: string[] };
  const properties = schema.properties ?? {};
  const names = schema.required?.length ? schema.required : Object.keys(properties).slice(0, 1);
  if (names.length === 0) return Object.keys(properties).length === 0 && !schema.properties ? { input: userText } : {};
  const number = Number(/-?\d+(\.\d+)?/.exec(userText)?.[0] ?? 1);
  const args: Record<string, unknown> = {};
  for (const name of names) {
    const raw = properties[name]?.type ?? 'string';
    const type = Array.isArray(raw) ? raw[0] : raw;
    if (type === 'number' || type === 'integer') args[name] = type === 'integer' ? Math.trunc(number) : number;
    else if (type === 'boolean') args[name] = true;
    else if (type === 'array') args[name] = [userText];
    else if (type === 'object') args[name] = {};
    else if (ARITHMETIC_FIELD.test(name) || (names.length === 1 && ARITHMETIC_TOOL.test(`${tool.name} ${tool.description}`))) args[name] = arithmeticIn(userText) ?? userText;
    else args[name] = userText;
  }
  return args;
}
