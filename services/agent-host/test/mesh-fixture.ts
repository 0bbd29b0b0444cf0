import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentServiceDefinition, type ThreadEvent } from '@elixirchain/proto/agent';
import { ToolSandboxServiceDefinition, ToolManifest } from '@elixirchain/proto/sandbox';
import { connect, spawnService, type ServiceClient, type SpawnedService } from '@elixirchain/runtime';
import { startMemoryServer, type MemoryServer } from '@elixirchain/memory';
import { startToolSandboxServer, type ToolSandboxServer } from '@elixirchain/tool-sandbox';

/** Real memory and tool-sandbox services in this process, on ephemeral ports, with a temp data dir. */
export interface Mesh {
  dataDir: string;
  memory: MemoryServer;
  sandbox: ToolSandboxServer;
  sandboxClient: ServiceClient<typeof ToolSandboxServiceDefinition>;
  /** Tool runs by tool name, counted where tool-sandbox executes them. */
  runs: Map<string, number>;
  registerTool(name: string, source: string, extra?: Partial<ToolManifest>): Promise<void>;
  /** An agent-host process (src/main.ts) on this mesh, stopped with the mesh if the test has not. */
  spawnAgentHost(): Promise<SpawnedService>;
  stop(): Promise<void>;
}

const AGENT_HOST_MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export async function startMesh(): Promise<Mesh> {
  const dataDir = mkdtempSync(join(tmpdir(), 'agent-host-test-'));
  const memory = await startMemoryServer({ address: '127.0.0.1:0', dataDir });
  const sandbox = await startToolSandboxServer({ address: '127.0.0.1:0', memoryAddress: memory.address });
  const runs = new Map<string, number>();
  const invoke = sandbox.sandbox.invoke.bind(sandbox.sandbox);
  sandbox.sandbox.invoke = (request, options) => {
    runs.set(request.name, (runs.get(request.name) ?? 0) + 1);
    return invoke(request, options);
  };
  const sandboxClient = connect(ToolSandboxServiceDefinition, sandbox.address);
  const hosts: SpawnedService[] = [];
  return {
    dataDir,
    memory,
    sandbox,
    sandboxClient,
    runs,
    async registerTool(name, source, extra = {}) {
      const bundle = Buffer.from(source);
      await sandboxClient.registerTool({
        manifest: {
          name,
          version: '1.0.0',
          description: `${name} tool`,
          inputSchema: { type: 'object' },
          limits: { timeoutMs: 20_000 },
          ...extra,
          bundleSha256: createHash('sha256').update(bundle).digest('hex'),
        },
        bundle,
        grantPermissions: true,
      });
    },
    async spawnAgentHost() {
      const child = await spawnService({
        entry: AGENT_HOST_MAIN,
        env: { ELIXIRCHAIN_AGENT_HOST_ADDR: '127.0.0.1:0', ELIXIRCHAIN_MEMORY_ADDR: memory.address, ELIXIRCHAIN_TOOL_SANDBOX_ADDR: sandbox.address, OPENAI_API_KEY: '' },
        readyTimeoutMs: 60_000,
      });
      hosts.push(child);
      return child;
    },
    async stop() {
      for (const host of hosts) await host.stop().catch(() => undefined);
      sandboxClient.close();
      await sandbox.stop();
      await memory.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function agentClient(address: string) {
  return connect(AgentServiceDefinition, address);
}

export async function collectEvents(stream: AsyncIterable<{ event?: ThreadEvent }>, onEvent?: (e: ThreadEvent) => void): Promise<ThreadEvent[]> {
  const out: ThreadEvent[] = [];
  for await (const response of stream) {
    if (!response.event) continue;
    out.push(response.event);
    onEvent?.(response.event);
  }
  return out;
}
