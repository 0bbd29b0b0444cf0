import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { connect } from '@elixirchain/runtime';
import { ObservingToolProxy } from './observing-tool-proxy.js';
import { ScriptedAgentService } from './scripted-agent-service.js';
import { bundleOf, TEST_TOOLS } from './test-tools.js';

/**
 * The real services a chain executor talks to, in this process: memory
 * (SQLite in a temp dir), tool-sandbox with the test tools registered, an
 * observing proxy in front of the sandbox, and agents.
 */
export interface ChainMesh {
  memoryAddress: string;
  sandboxAddress: string;
  /** Where the executor should send tool calls: the observing proxy. */
  toolAddress: string;
  tools: ObservingToolProxy;
  agentAddress: string;
  agents: ScriptedAgentService;
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
    const agents = await ScriptedAgentService.start({
      echo: { reply: (m) => `echo: ${m}` },
      slow: { reply: () => 'a long answer '.repeat(200), wordDelayMs: 20 },
    });
    stops.push(() => agents.stop());
    return { memoryAddress: memory.address, sandboxAddress: sandbox.address, toolAddress: tools.address, tools, agentAddress: agents.address, agents, dataDir, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
