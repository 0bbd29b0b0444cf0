import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceDefinition, type ThreadEvent } from '@elixirchain/proto/agent';
import { ToolSandboxServiceDefinition, ToolManifest } from '@elixirchain/proto/sandbox';
import { connect, type ServiceClient } from '@elixirchain/runtime';
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
  stop(): Promise<void>;
}

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
    async stop() {
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
