import { randomUUID } from 'node:crypto';
import type { Agent } from '@elixirchain/proto/agent';
import type { DeepPartial } from '@elixirchain/runtime';
import { agentFromDefinition, parseToolRef, updateMaskFor } from '../definitions/agent-definition.js';
import { DefinitionError, readDefinitionFile } from '../definitions/definition-file.js';
import { MeshClients } from '../mesh/mesh-clients.js';
import type { Output } from '../output/output.js';

export interface AgentFlags {
  file?: string;
  id?: string;
  name?: string;
  instructions?: string;
  model?: string;
  provider?: string;
  tool?: string[];
  expectVersion?: number;
}

/** Builds the agent from a file, then lets flags override what they name. */
export function agentFromFlags(flags: AgentFlags): DeepPartial<Agent> {
  const base: DeepPartial<Agent> = flags.file ? agentFromDefinition(flags.file, readDefinitionFile(flags.file)) : {};
  const agent: DeepPartial<Agent> = flags.file ? base : {};
  if (flags.id !== undefined) agent.id = flags.id;
  if (flags.name !== undefined) agent.displayName = flags.name;
  if (flags.instructions !== undefined) agent.instructions = flags.instructions;
  if (flags.model !== undefined || flags.provider !== undefined) {
    agent.model = { ...(base.model ?? {}), ...(flags.model !== undefined ? { model: flags.model } : {}), ...(flags.provider !== undefined ? { provider: flags.provider } : {}) };
  }
  if (flags.tool?.length) agent.tools = flags.tool.map((t, i) => parseToolRef(t, `--tool #${i + 1}`));
  return agent;
}

export async function agentsCreate(out: Output, flags: AgentFlags): Promise<void> {
  const agent = agentFromFlags(flags);
  if (!flags.file && !flags.instructions && !flags.id) throw new DefinitionError('give a definition with --file <agent.yaml>, or at least --id and --instructions');
  await withClients(async (c) => {
    const res = await c.agents().createAgent({ agent, requestId: randomUUID() });
    out.result(res.agent, () => out.line(`created agent ${res.agent!.id} (version ${res.agent!.version})`));
  });
}

export async function agentsList(out: Output, opts: { pageSize?: number }): Promise<void> {
  await withClients(async (c) => {
    const agents: Agent[] = [];
    let pageToken = '';
    do {
      const res = await c.agents().listAgents({ pageSize: opts.pageSize ?? 100, pageToken });
      agents.push(...res.agents);
      pageToken = res.nextPageToken;
    } while (pageToken);
    out.result({ agents }, () =>
      out.table(
        agents.map((a) => ({ id: a.id, name: a.displayName, version: a.version, model: describeModel(a), tools: a.tools.map((t) => t.name).join(', '), updated: a.updateTime })),
        ['id', 'name', 'version', 'model', 'tools', 'updated'],
      ),
    );
  });
}

export async function agentsGet(out: Output, id: string, opts: { version?: number }): Promise<void> {
  await withClients(async (c) => {
    const res = await c.agents().getAgent({ id, version: opts.version ?? 0 });
    const a = res.agent!;
    out.result(a, () => {
      out.line(`${a.id}  ${a.displayName ? `"${a.displayName}"  ` : ''}version ${a.version}`);
      out.line(`model:        ${describeModel(a)}`);
      out.line(`tools:        ${a.tools.map((t) => `${t.name}@${t.versionRange || '*'}${t.requireApproval ? ' (approval)' : ''}`).join(', ') || '(none)'}`);
      if (a.limits) out.line(`limits:       ${JSON.stringify(a.limits)}`);
      out.line(`instructions: ${a.instructions || '(none)'}`);
      if (a.updateTime) out.line(`updated:      ${a.updateTime.toISOString()}`);
    });
  });
}

export async function agentsUpdate(out: Output, id: string, flags: AgentFlags): Promise<void> {
  const agent = { ...agentFromFlags(flags), id };
  // From a file: replace every updatable field; from flags: only those given.
  const updateMask = flags.file ? [] : updateMaskFor(agent as Record<string, unknown>);
  if (!flags.file && updateMask.length === 0) throw new DefinitionError('nothing to update: give --file or a field flag (--name, --instructions, --model, --provider, --tool)');
  await withClients(async (c) => {
    const res = await c.agents().updateAgent({ agent, updateMask, expectedVersion: flags.expectVersion, requestId: randomUUID() });
    out.result(res.agent, () => out.line(`updated agent ${res.agent!.id} to version ${res.agent!.version}`));
  });
}

export async function agentsDelete(out: Output, id: string): Promise<void> {
  await withClients(async (c) => {
    const res = await c.agents().deleteAgent({ id, requestId: randomUUID() });
    out.result({ id, deleted: res.deleted }, () => out.line(res.deleted ? `deleted agent ${id}` : `agent ${id} was already gone`));
  });
}

function describeModel(a: Agent): string {
  const provider = a.model?.provider || 'auto';
  return `${provider}${a.model?.model ? `/${a.model.model}` : ''}`;
}

export async function withClients<T>(fn: (clients: MeshClients) => Promise<T>): Promise<T> {
  const clients = new MeshClients();
  try {
    return await fn(clients);
  } finally {
    clients.close();
  }
}
