import path from 'node:path';
import type { Agent } from '@elixirchain/proto/agent';
import type { DeepPartial } from '@elixirchain/runtime';
import { REPO_ROOT } from '../launcher/service-catalog.js';

/** Bumped whenever the seeded definition changes, so an older seed is updated but a user's edits are kept. */
export const DEMO_SEED_VERSION = 1;
export const DEMO_AGENT_ID = 'demo';

/** The plugin-sdk examples the demo agent gets; the first is what the offline scripted model calls. */
export const DEMO_TOOL_EXAMPLES = ['calculator', 'prime-counter'].map((name) => path.join(REPO_ROOT, 'plugin-sdk', 'examples', name));

/**
 * The demo agent. The model provider is left empty on purpose: agent-host
 * picks OpenAI (OPENAI_BASE_URL optional) when OPENAI_API_KEY is set, and the
 * offline scripted model otherwise, which calls the first tool with
 * arguments taken from the message and answers with its result.
 */
export function demoAgent(toolNames: string[], env: NodeJS.ProcessEnv = process.env): DeepPartial<Agent> {
  return {
    id: DEMO_AGENT_ID,
    displayName: 'Demo agent',
    instructions:
      'You are the ElixirChain demo agent. Answer briefly. Use the calculator for any arithmetic ' +
      'and the other tools when they fit; say which tool you used.',
    model: { provider: '', model: env.OPENAI_MODEL?.trim() || 'gpt-4o-mini', maxOutputTokens: 512 },
    tools: toolNames.map((name) => ({ name, versionRange: '*' })),
    memoryPolicy: { historyLimit: 40 },
    limits: { maxToolCallsPerTurn: 8 },
    metadata: { seededBy: 'elixirchain start', demoSeedVersion: DEMO_SEED_VERSION },
  };
}
