// @elixirchain/tool-sandbox: runs third-party tools in isolated-vm isolates.
export { createSandbox, ToolSandbox } from './sandbox/tool-sandbox.js';
export type { InvokeOptions, InvokeRequest, SandboxEvent, SandboxOptions } from './sandbox/tool-sandbox.js';
export { SecretStore } from './secrets/secret-store.js';
export { InMemoryToolStore } from './registry/in-memory-tool-store.js';
export { MemoryServiceToolStore } from './registry/memory-service-tool-store.js';
export type { ToolStore, StoredToolVersion, StoredGrant } from './registry/tool-store.js';
export type { HostResolver, ResolvedAddress } from './network/fetch-guard.js';
export type { OperatorLimits, PoolSettings } from './config/operator-limits.js';
export { sha256Hex } from './manifest/tool-manifest.js';
