import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnService } from '@elixirchain/runtime';
import type { SpawnedService } from '@elixirchain/runtime';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = (service: string) => join(repoRoot, 'services', service, 'src', 'main.ts');

export interface MeshProcesses {
  dataDir: string;
  memory: SpawnedService;
  toolSandbox: SpawnedService;
  agentHost: SpawnedService;
  chainExecutor: SpawnedService;
  all(): SpawnedService[];
  stop(): Promise<void>;
}

/**
 * The four services as real processes on free ports, wired to each other, with
 * a fresh data directory: what cross-service tests that kill or fuzz use.
 */
export type MeshServiceName = 'memory' | 'tool-sandbox' | 'agent-host' | 'chain-executor';

export async function startMeshProcesses(
  extraEnv: Record<string, string> = {},
  /** Environment for one service only (e.g. its own service token). */
  perService: Partial<Record<MeshServiceName, Record<string, string>>> = {},
): Promise<MeshProcesses> {
  const dataDir = mkdtempSync(join(tmpdir(), 'elixirchain-mesh-'));
  const base = { ELIXIRCHAIN_DATA_DIR: dataDir, ...extraEnv };
  const started: SpawnedService[] = [];
  try {
    const memory = await spawnService({ entry: entry('memory'), env: { ...base, ...perService.memory, ELIXIRCHAIN_MEMORY_ADDR: '127.0.0.1:0' } });
    started.push(memory);
    const toolSandbox = await spawnService({
      entry: entry('tool-sandbox'),
      env: { ...base, ...perService['tool-sandbox'], ELIXIRCHAIN_MEMORY_ADDR: memory.address, ELIXIRCHAIN_TOOL_SANDBOX_ADDR: '127.0.0.1:0' },
    });
    started.push(toolSandbox);
    const agentHost = await spawnService({
      entry: entry('agent-host'),
      env: { ...base, ...perService['agent-host'], ELIXIRCHAIN_MEMORY_ADDR: memory.address, ELIXIRCHAIN_TOOL_SANDBOX_ADDR: toolSandbox.address, ELIXIRCHAIN_AGENT_HOST_ADDR: '127.0.0.1:0' },
    });
    started.push(agentHost);
    const chainExecutor = await spawnService({
      entry: entry('chain-executor'),
      env: {
        ...base,
        ...perService['chain-executor'],
        ELIXIRCHAIN_MEMORY_ADDR: memory.address,
        ELIXIRCHAIN_TOOL_SANDBOX_ADDR: toolSandbox.address,
        ELIXIRCHAIN_AGENT_HOST_ADDR: agentHost.address,
        ELIXIRCHAIN_CHAIN_EXECUTOR_ADDR: '127.0.0.1:0',
      },
    });
    started.push(chainExecutor);
    return {
      dataDir,
      memory,
      toolSandbox,
      agentHost,
      chainExecutor,
      all: () => [memory, toolSandbox, agentHost, chainExecutor],
      async stop() {
        for (const service of [...started].reverse()) await service.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const service of started.reverse()) await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
