import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { connect } from '@elixirchain/runtime';
import { ObservingToolProxy } from './observing-tool-proxy.js';
import { bundleOf, TEST_TOOLS } from './test-tools.js';

const ms = (n: number) => ({ seconds: Math.floor(n / 1000), nanos: (n % 1000) * 1e6 });

/** Agents with the scripted model: replies are fixed text, streamed in chunks. */
const TEST_AGENTS = [
  { id: 'echo', events: [{ text: 'echo: hello world', chunkSize: 4, delay: undefined }] },
  // Talks for ~20 s in small pieces: long enough to be cancelled mid-turn.
  { id: 'slow', events: Array.from({ length: 100 }, () => ({ text: 'more ', chunkSize: 0, delay: ms(200) })) },
];

/**
 * The real services a chain executor talks to, in this process: memory
 * (SQLite in a temp dir), tool-sandbox with the test tools registered, an
 * observing proxy in front of the sandbox, and agent-host with scripted-model agents.
 */
export interface ChainMesh {
  memoryAddress: string;
  sandboxAddress: string;
  /** Where the executor should send tool calls: the observing proxy. */
  toolAddress: string;
  tools: ObservingToolProxy;
  agentAddress: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startChainMesh(): Promise<ChainMesh> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chain-mesh-'));
  const stops: Array<() => Promise<void> | void> = [() => rmSync(dataDir, { recursive: true, force: true })];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    const { startMemoryServer } = await import('@elixirchain/memory');
    const memory = await startMemoryServer({ address: '127.0.0.1:0', dataDir });
    stops.push(() => memory.stop());
    const { startToolSandboxServer } = await import('@elixirchain/tool-sandbox');
    const sandbox = await startToolSandboxServer({ address: '127.0.0.1:0', memoryAddress: memory.address });
    stops.push(() => sandbox.stop());
    const client = connect(ToolSandboxServiceDefinition, sandbox.address);
    for (const tool of TEST_TOOLS) await client.registerTool({ ...bundleOf(tool), requestId: '', grantPermissions: true });
    client.close();
    const tools = await ObservingToolProxy.start(sandbox.address);
    stops.push(() => tools.stop());
    const { startAgentHostServer } = await import('@elixirchain/agent-host');
    const agentHost = await startAgentHostServer({ address: '127.0.0.1:0', memoryAddress: memory.address, toolSandboxAddress: sandbox.address });
    stops.push(() => agentHost.stop());
    const agents = connect(AgentServiceDefinition, agentHost.address);
    for (const a of TEST_AGENTS) {
      await agents.createAgent({
        agent: {
          id: a.id,
          instructions: 'test agent',
          model: { provider: 'scripted', script: [{ events: a.events.map((e) => ({ delay: e.delay, chunkSize: e.chunkSize, event: { $case: 'text' as const, text: e.text } })) }] },
        },
        requestId: '',
      });
    }
    // Calls the echo tool, which needs an approval, then answers.
    await agents.createAgent({
      agent: {
        id: 'guarded',
        instructions: 'test agent whose tool needs approval',
        tools: [{ name: 'echo', versionRange: '', requireApproval: true }],
        model: {
          provider: 'scripted',
          script: [
            { events: [{ chunkSize: 0, event: { $case: 'toolCall', toolCall: { id: 'call-1', name: 'echo', arguments: { x: 1 } } } }] },
            { events: [{ chunkSize: 0, event: { $case: 'text', text: 'approved and done' } }] },
          ],
        },
      },
      requestId: '',
    });
    agents.close();
    return { memoryAddress: memory.address, sandboxAddress: sandbox.address, toolAddress: tools.address, tools, agentAddress: agentHost.address, dataDir, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
