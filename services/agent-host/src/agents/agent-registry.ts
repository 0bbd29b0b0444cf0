import { randomBytes } from 'node:crypto';
import { Agent } from '@elixirchain/proto/agent';
import type { StateEntry } from '@elixirchain/proto/memory';
import { ElixirError, GrpcCode, errors } from '@elixirchain/runtime';
import type { MemoryPort } from '../ports/memory-port.js';
import { assertValidAgent } from './agent-validation.js';

const UPDATABLE = ['displayName', 'instructions', 'model', 'tools', 'memoryPolicy', 'limits', 'permissions', 'metadata'] as const;

export const agentKey = (id: string) => `agents/${id}`;
export const agentVersionKey = (id: string, version: number) => `agent-versions/${id}/${String(version).padStart(10, '0')}`;

function toStruct(agent: Agent): Record<string, unknown> {
  return Agent.toJSON(agent) as Record<string, unknown>;
}

function fromEntry(entry: StateEntry): Agent {
  if (entry.value?.$case !== 'structValue') throw errors.internal('AGENT_RECORD_CORRUPT', `state ${entry.key} does not hold an agent`);
  return Agent.fromJSON(entry.value.structValue);
}

const camel = (path: string) => path.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Agent definitions, versioned, kept through the memory service's state:
 * the current definition under agents/<id>, every version under
 * agent-versions/<id>/<n>, both written in one atomic batch.
 */
export class AgentRegistry {
  constructor(private readonly memory: MemoryPort) {}

  async create(input: Agent | undefined, requestId: string): Promise<Agent> {
    if (!input) throw errors.invalidArgument('agent', 'is required');
    assertValidAgent(input);
    const now = new Date();
    const agent: Agent = { ...input, id: input.id || `agent-${randomBytes(6).toString('hex')}`, version: 1, createTime: now, updateTime: now };
    try {
      await this.memory.batchWrite({
        atomic: true,
        requestId: requestId ? `create-agent:${requestId}` : '',
        operations: [
          { operation: { $case: 'putState', putState: { key: agentKey(agent.id), value: { $case: 'structValue', structValue: toStruct(agent) }, expectedVersion: 0 } } },
          { operation: { $case: 'putState', putState: { key: agentVersionKey(agent.id, 1), value: { $case: 'structValue', structValue: toStruct(agent) } } } },
        ],
      });
    } catch (error) {
      if (ElixirError.is(error, GrpcCode.ABORTED)) throw errors.alreadyExists('agent', agent.id);
      throw error;
    }
    return agent;
  }

  async get(id: string, version = 0): Promise<Agent> {
    if (!id) throw errors.invalidArgument('id', 'is required');
    const entry = await this.memory.getState(version > 0 ? agentVersionKey(id, version) : agentKey(id));
    if (!entry) throw version > 0 ? errors.notFound('agent version', `${id}@${version}`) : errors.notFound('agent', id);
    return fromEntry(entry);
  }

  private async getEntry(id: string): Promise<{ agent: Agent; stateVersion: number }> {
    const entry = await this.memory.getState(agentKey(id));
    if (!entry) throw errors.notFound('agent', id);
    return { agent: fromEntry(entry), stateVersion: entry.version };
  }

  async list(pageSize: number, pageToken: string): Promise<{ agents: Agent[]; nextPageToken: string }> {
    if (pageSize < 0) throw errors.invalidArgument('page_size', 'must not be negative');
    const page = await this.memory.listState({ prefix: 'agents/', pageSize: Math.min(pageSize || 50, 1000), pageToken });
    return { agents: page.entries.map(fromEntry), nextPageToken: page.nextPageToken };
  }

  async update(input: Agent | undefined, mask: string[] | undefined, expectedVersion: number | undefined, requestId: string): Promise<Agent> {
    if (!input) throw errors.invalidArgument('agent', 'is required');
    if (!input.id) throw errors.invalidArgument('agent.id', 'is required');
    const paths = (mask ?? []).map(camel);
    for (const [i, path] of paths.entries()) {
      if (!UPDATABLE.includes(path.split('.')[0] as (typeof UPDATABLE)[number])) {
        throw errors.invalidArgument(`update_mask.paths[${i}]`, `"${mask![i]}" is not an updatable field (one of ${UPDATABLE.join(', ')})`);
      }
    }
    for (let attempt = 0; ; attempt++) {
      const { agent: current, stateVersion } = await this.getEntry(input.id);
      if (expectedVersion !== undefined && expectedVersion !== current.version) {
        throw errors.aborted('AGENT_VERSION_MISMATCH', `agent ${input.id} is at version ${current.version}, not ${expectedVersion}`, { currentVersion: String(current.version) });
      }
      const merged = applyMask(current, input, paths);
      assertValidAgent(merged);
      const next: Agent = { ...merged, id: current.id, version: current.version + 1, createTime: current.createTime, updateTime: new Date() };
      try {
        await this.memory.batchWrite({
          atomic: true,
          requestId: requestId ? `update-agent:${requestId}` : '',
          operations: [
            { operation: { $case: 'putState', putState: { key: agentKey(next.id), value: { $case: 'structValue', structValue: toStruct(next) }, expectedVersion: stateVersion } } },
            { operation: { $case: 'putState', putState: { key: agentVersionKey(next.id, next.version), value: { $case: 'structValue', structValue: toStruct(next) } } } },
          ],
        });
        return next;
      } catch (error) {
        // Another update won the race; without an expected_version the caller asked for last-writer-wins.
        if (ElixirError.is(error, GrpcCode.ABORTED) && expectedVersion === undefined && attempt < 3) continue;
        throw error;
      }
    }
  }

  async delete(id: string): Promise<boolean> {
    if (!id) throw errors.invalidArgument('id', 'is required');
    const { stateVersion } = await this.getEntry(id);
    const versions = await this.memory.listState({ prefix: `agent-versions/${id}/`, keysOnly: true, pageSize: 1000 });
    await this.memory.batchWrite({
      atomic: true,
      operations: [
        { operation: { $case: 'deleteState', deleteState: { key: agentKey(id), expectedVersion: stateVersion } } },
        ...versions.entries.map((e) => ({ operation: { $case: 'deleteState' as const, deleteState: { key: e.key } } })),
      ],
    });
    return true;
  }
}

function applyMask(current: Agent, input: Agent, paths: string[]): Agent {
  if (paths.length === 0) {
    const next = { ...current };
    for (const field of UPDATABLE) (next as any)[field] = (input as any)[field];
    return next;
  }
  const json = Agent.toJSON(current) as Record<string, any>;
  const patch = Agent.toJSON(input) as Record<string, any>;
  for (const path of paths) {
    const parts = path.split('.');
    let target = json;
    let source: any = patch;
    for (const part of parts.slice(0, -1)) {
      target[part] = target[part] && typeof target[part] === 'object' ? target[part] : {};
      target = target[part];
      source = source?.[part];
    }
    const last = parts[parts.length - 1];
    if (source && last in source) target[last] = source[last];
    else delete target[last];
  }
  return Agent.fromJSON(json);
}
