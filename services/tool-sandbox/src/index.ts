// @elixirchain/tool-sandbox: runs third-party tools in isolated-vm isolates.
import { startServer, type Logger } from '@elixirchain/runtime';
import { MemoryServiceToolStore } from './registry/memory-service-tool-store.js';
import type { ToolStore } from './registry/tool-store.js';
import { toolSandboxService } from './server/tool-sandbox-service.js';
import { ToolSandbox, type SandboxOptions } from './sandbox/tool-sandbox.js';
import { toolSandboxNodeStatus } from './status/node-status.js';

export { createSandbox, ToolSandbox, SHARED_TENANT } from './sandbox/tool-sandbox.js';
export type { InvokeOptions, InvokeRequest, SandboxEvent, SandboxOptions } from './sandbox/tool-sandbox.js';
export { SecretStore } from './secrets/secret-store.js';
export { InMemoryToolStore } from './registry/in-memory-tool-store.js';
export { MemoryServiceToolStore } from './registry/memory-service-tool-store.js';
export type { ToolStore, StoredToolVersion, StoredGrant } from './registry/tool-store.js';
export type { HostResolver, ResolvedAddress } from './network/fetch-guard.js';
export type { OperatorLimits, PoolSettings } from './config/operator-limits.js';
export { sha256Hex } from './manifest/tool-manifest.js';
export { toolSandboxService } from './server/tool-sandbox-service.js';

export interface ToolSandboxServerOptions extends Omit<SandboxOptions, 'store'> {
  /** host:port; '127.0.0.1:0' picks a free port. */
  address: string;
  /** Where tools and grants are kept; wins over memoryAddress. */
  registry?: ToolStore;
  /** Keep the registry in the memory service at this address (durable). Without either: in process. */
  memoryAddress?: string;
  logger?: Logger;
}

export interface ToolSandboxServer {
  address: string;
  sandbox: ToolSandbox;
  stop(): Promise<void>;
}

/** Starts the service in this process (workers are child processes); stop() is idempotent. */
export async function startToolSandboxServer(options: ToolSandboxServerOptions): Promise<ToolSandboxServer> {
  const store = options.registry ?? (options.memoryAddress ? new MemoryServiceToolStore(options.memoryAddress) : undefined);
  const sandbox = new ToolSandbox({ ...options, store });
  await sandbox.start();
  let server;
  try {
    const status = toolSandboxNodeStatus(sandbox);
    server = await startServer({ name: 'tool-sandbox', address: options.address, services: [toolSandboxService(sandbox), status.binding], logger: options.logger });
    status.setAddress(server.address);
  } catch (error) {
    await sandbox.stop();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    address: server.address,
    sandbox,
    stop: () =>
      (stopping ??= (async () => {
        await server.drain(2000);
        await sandbox.stop();
      })()),
  };
}
