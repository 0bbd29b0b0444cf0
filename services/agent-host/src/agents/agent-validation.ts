import { Agent } from '@elixirchain/proto/agent';
import { errors, type FieldViolation } from '@elixirchain/runtime';

export const AGENT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const TOOL_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
const PROVIDERS = new Set(['', 'openai', 'scripted']);

/** Every problem of an agent definition at once, each naming its field. */
export function agentViolations(agent: Agent, prefix = 'agent'): FieldViolation[] {
  const v: FieldViolation[] = [];
  const field = (name: string) => `${prefix}.${name}`;
  if (agent.id && !AGENT_ID_PATTERN.test(agent.id)) v.push({ field: field('id'), description: 'must be 1-63 lowercase letters, digits, "_" or "-", starting with a letter or digit' });
  if (agent.displayName.length > 200) v.push({ field: field('display_name'), description: 'at most 200 characters' });
  if (agent.instructions.length > 100_000) v.push({ field: field('instructions'), description: 'at most 100000 characters' });
  const model = agent.model;
  if (model) {
    if (!PROVIDERS.has(model.provider)) v.push({ field: field('model.provider'), description: 'must be "openai", "scripted" or empty' });
    if (model.temperature !== undefined && (model.temperature < 0 || model.temperature > 2)) v.push({ field: field('model.temperature'), description: 'must be between 0 and 2' });
    if (model.maxOutputTokens < 0) v.push({ field: field('model.max_output_tokens'), description: 'must not be negative' });
    model.script.forEach((response, i) =>
      response.events.forEach((event, j) => {
        const at = field(`model.script[${i}].events[${j}]`);
        if (!event.event) v.push({ field: at, description: 'needs text, tool_call or error' });
        else if (event.event.$case === 'toolCall' && !event.event.toolCall.name) v.push({ field: `${at}.tool_call.name`, description: 'is required' });
        if (event.chunkSize < 0) v.push({ field: `${at}.chunk_size`, description: 'must not be negative' });
        if (event.delay && (event.delay.seconds < 0 || event.delay.seconds > 3600)) v.push({ field: `${at}.delay`, description: 'must be between 0 and 1 hour' });
      }),
    );
  }
  const seen = new Set<string>();
  agent.tools.forEach((tool, i) => {
    if (!TOOL_NAME_PATTERN.test(tool.name)) v.push({ field: field(`tools[${i}].name`), description: 'must be a tool name: lowercase letters, digits, "_" or "-", starting with a letter' });
    else if (seen.has(tool.name)) v.push({ field: field(`tools[${i}].name`), description: `tool ${tool.name} is listed twice` });
    seen.add(tool.name);
  });
  const policy = agent.memoryPolicy;
  if (policy) {
    if (policy.recallTopK < 0 || policy.recallTopK > 100) v.push({ field: field('memory_policy.recall_top_k'), description: 'must be between 0 and 100' });
    if (policy.historyLimit < 0) v.push({ field: field('memory_policy.history_limit'), description: 'must not be negative' });
    if (policy.recallMinScore < -1 || policy.recallMinScore > 1) v.push({ field: field('memory_policy.recall_min_score'), description: 'must be between -1 and 1' });
  }
  const limits = agent.limits;
  if (limits) {
    for (const [name, value, max] of [
      ['max_tool_calls_per_turn', limits.maxToolCallsPerTurn, 1000],
      ['max_tokens_per_turn', limits.maxTokensPerTurn, 10_000_000],
      ['mailbox_capacity', limits.mailboxCapacity, 10_000],
      ['max_concurrent_threads', limits.maxConcurrentThreads, 100_000],
    ] as const) {
      if (value < 0 || value > max) v.push({ field: field(`limits.${name}`), description: `must be between 0 and ${max}` });
    }
    if (limits.turnTimeout && (limits.turnTimeout.seconds < 0 || limits.turnTimeout.seconds > 24 * 3600)) v.push({ field: field('limits.turn_timeout'), description: 'must be between 0 and 24 hours' });
  }
  return v;
}

/** Definitions are stored as one memory state value (4 MiB at most, twice per version): keep well below. */
export const MAX_AGENT_JSON_BYTES = 1 << 20;

export function assertValidAgent(agent: Agent, prefix = 'agent'): void {
  const violations = agentViolations(agent, prefix);
  const size = Buffer.byteLength(JSON.stringify(Agent.toJSON(agent)));
  if (size > MAX_AGENT_JSON_BYTES) violations.push({ field: prefix, description: `the definition is ${size} bytes as JSON; at most ${MAX_AGENT_JSON_BYTES}` });
  if (violations.length > 0) throw errors.invalidArguments(violations);
}
