// The workload expressed in ElixirChain's contract: the add tool as a sandbox
// bundle, and an agent whose scripted model plays the fake model's two answers.
import { createHash } from 'node:crypto';
import { Agent } from '@elixirchain/proto/agent';
import { ToolManifest } from '@elixirchain/proto/sandbox';
import { AGENT_INSTRUCTIONS, REPLY_TEXT, TEXT_CHUNK_SIZE, TOOL_ARGUMENTS, TOOL_DESCRIPTION, TOOL_INPUT_SCHEMA, TOOL_NAME } from './workload.js';

export const ADD_TOOL_BUNDLE = Buffer.from('export default async function (input) { return input.a + input.b; }\n');

export const ADD_TOOL_MANIFEST: ToolManifest = ToolManifest.fromPartial({
  name: TOOL_NAME,
  version: '1.0.0',
  description: TOOL_DESCRIPTION,
  inputSchema: structuredClone(TOOL_INPUT_SCHEMA) as Record<string, unknown>,
  outputSchema: { type: 'number' },
  annotations: { readOnly: true, idempotent: true },
  // A pure tool opts in to a warm context per tenant, version and grant (the
  // sandbox's default is a fresh context per call); see tool-sandbox README.
  contextReuse: { maxCalls: 1000, maxIdleMs: 10_000 },
  bundleSha256: createHash('sha256').update(ADD_TOOL_BUNDLE).digest('hex'),
});

export function benchAgent(id: string, instructions = AGENT_INSTRUCTIONS): Agent {
  return Agent.fromPartial({
    id,
    displayName: id,
    instructions,
    model: {
      provider: 'scripted',
      model: 'bench',
      script: [
        { events: [{ event: { $case: 'toolCall', toolCall: { id: 'call_1', name: TOOL_NAME, arguments: { ...TOOL_ARGUMENTS } } } }] },
        { events: [{ event: { $case: 'text', text: REPLY_TEXT }, chunkSize: TEXT_CHUNK_SIZE }] },
      ],
    },
    tools: [{ name: TOOL_NAME, versionRange: '', requireApproval: false }],
  });
}
