import { Agent, type ToolRef } from '@elixirchain/proto/agent';
import { checkKnownKeys, DefinitionError, normaliseDurations } from './definition-file.js';

const AGENT_FIELDS = Object.keys(Agent.fromPartial({}));

/**
 * An agent from its YAML/JSON form (the proto's JSON mapping, camelCase or
 * snake_case). Tools may be written "name@range" for short.
 */
export function agentFromDefinition(source: string, value: Record<string, unknown>): Agent {
  checkKnownKeys(source, value, AGENT_FIELDS);
  const tools = value.tools;
  if (tools !== undefined && !Array.isArray(tools)) throw new DefinitionError(`${source}: tools must be a list`);
  const normalised = { ...value, tools: (tools as unknown[] | undefined)?.map((t, i) => (typeof t === 'string' ? parseToolRef(t, `${source}: tools[${i}]`) : t)) };
  return Agent.fromJSON(normaliseDurations(normalised));
}

/** "calculator", "calculator@^1.2", "calculator@1.x!" (a trailing ! requires approval). */
export function parseToolRef(text: string, where = 'tool'): ToolRef {
  const match = /^([a-z][a-z0-9_-]*)(?:@([^!\s]+))?(!)?$/.exec(text.trim());
  if (!match) throw new DefinitionError(`${where}: "${text}" is not name[@version-range][!]`);
  return { name: match[1]!, versionRange: match[2] ?? '*', requireApproval: match[3] === '!' };
}

/** The fields an update replaces when built from flags: only those given. */
export function updateMaskFor(agent: Record<string, unknown>): string[] {
  return Object.entries(agent)
    .filter(([key, v]) => v !== undefined && !['id', 'version', 'createTime', 'updateTime'].includes(key))
    .map(([key]) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
}
