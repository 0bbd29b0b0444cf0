import type { Agent, ToolRef } from '@elixirchain/proto/agent';
import type { ToolInfo } from '../ports/tool-runner.js';

/** A host pattern held by the agent covers the asked host ("*.example.com" covers subdomains). */
function hostCovered(asked: string, held: string[]): boolean {
  return held.some((h) => h === '*' || h === asked || (h.startsWith('*.') && (asked.endsWith(h.slice(1)) || asked === `*${h.slice(1)}`)));
}

/**
 * Why a call needs a human before it runs, or undefined when it may run:
 * the agent's ToolRef demands it, the manifest marks the tool destructive, or
 * the tool asks for a permission the agent does not hold.
 */
export function approvalReason(agent: Agent, ref: ToolRef | undefined, tool: ToolInfo | undefined): string | undefined {
  if (ref?.requireApproval) return `the agent requires approval for ${ref.name}`;
  if (!tool) return undefined;
  if (tool.destructive) return `${tool.name} is marked destructive`;
  const held = agent.permissions ?? { networkHosts: [], secrets: [] };
  const hosts = tool.permissions.networkHosts.filter((h) => !hostCovered(h, held.networkHosts));
  const secrets = tool.permissions.secrets.filter((s) => !held.secrets.includes(s));
  if (hosts.length > 0 || secrets.length > 0) {
    const parts = [...hosts.map((h) => `network host ${h}`), ...secrets.map((s) => `secret ${s}`)];
    return `${tool.name} asks for permissions the agent lacks: ${parts.join(', ')}`;
  }
  return undefined;
}
