import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolSandboxServiceDefinition, type ToolManifest } from '@elixirchain/proto/sandbox';
import { connect } from '@elixirchain/runtime';
import { startMemoryServer } from '@elixirchain/memory';
import { startToolSandboxServer } from '@elixirchain/tool-sandbox';
import { startAgentHostServer } from '@elixirchain/agent-host';
import { startChainExecutorServer } from '@elixirchain/chain-executor';
import { startConsoleGateway, type ConsoleGateway, type ConsoleGatewayOptions, type MeshAddressBook } from '@elixirchain/console';

/** The four services in this process on ephemeral ports, and the console gateway in front of them. */
export interface ConsoleMesh {
  gateway: ConsoleGateway;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Where the four services listen. */
  addresses: MeshAddressBook;
  /** Registers a tool written inline; `grant: false` leaves the permissions it asks for ungranted. */
  registerTool(name: string, source: string, extra?: Partial<ToolManifest>, options?: { grant?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function startConsoleMesh(options: { uiDir?: string; gateway?: Pick<ConsoleGatewayOptions, 'replicas' | 'jaegerUrl'> } = {}): Promise<ConsoleMesh> {
  const dataDir = mkdtempSync(join(tmpdir(), 'elixirchain-console-'));
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const memory = await startMemoryServer({ address: '127.0.0.1:0', dataDir });
    stops.push(() => memory.stop());
    const sandbox = await startToolSandboxServer({ address: '127.0.0.1:0', memoryAddress: memory.address });
    stops.push(() => sandbox.stop());
    const agentHost = await startAgentHostServer({ address: '127.0.0.1:0', memoryAddress: memory.address, toolSandboxAddress: sandbox.address });
    stops.push(() => agentHost.stop());
    const chains = await startChainExecutorServer({
      address: '127.0.0.1:0',
      memoryAddress: memory.address,
      toolSandboxAddress: sandbox.address,
      agentHostAddress: agentHost.address,
    });
    stops.push(() => chains.stop());
    const addresses = { memory: memory.address, toolSandbox: sandbox.address, agentHost: agentHost.address, chainExecutor: chains.address };
    const gateway = await startConsoleGateway({ address: '127.0.0.1:0', uiDir: options.uiDir, services: addresses, ...options.gateway });
    stops.push(() => gateway.stop());
    const sandboxClient = connect(ToolSandboxServiceDefinition, sandbox.address);
    stops.push(async () => sandboxClient.close());
    return {
      gateway,
      url: gateway.url,
      addresses,
      async registerTool(name, source, extra = {}, options = {}) {
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
          grantPermissions: options.grant ?? true,
        });
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
