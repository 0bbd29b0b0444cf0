import type { ToolManifest as ProtoManifest, ToolPermissions as ProtoPermissions } from '@elixirchain/proto/sandbox';
import type { ToolPermissions } from '../tool/tool-types.js';
import type { ToolManifest } from './tool-manifest.js';

// The SDK's manifest JSON as the sandbox's protobuf ToolManifest. Internal:
// the published types never mention the private proto package.

/** @internal */
export function toProtoManifest(manifest: ToolManifest): ProtoManifest {
  return {
    name: manifest.name,
    version: manifest.version,
    description: manifest.description,
    inputSchema: manifest.inputSchema,
    outputSchema: manifest.outputSchema,
    annotations: { ...manifest.annotations },
    permissions: toProtoPermissions(manifest.permissions),
    limits: { ...manifest.limits },
    retry: {
      maxAttempts: manifest.retry.maxAttempts,
      initialBackoff: millisToDuration(manifest.retry.initialBackoffMs),
      maxBackoff: millisToDuration(manifest.retry.maxBackoffMs),
      backoffMultiplier: manifest.retry.backoffMultiplier,
    },
    bundleSha256: manifest.bundleSha256,
    // Absent unless the tool opted in: the sandbox then gives every call a fresh context.
    contextReuse: manifest.contextReuse && { maxCalls: manifest.contextReuse.maxCalls, maxIdleMs: manifest.contextReuse.maxIdleMs },
  };
}

/** @internal */
export function toProtoPermissions(permissions: ToolPermissions): ProtoPermissions {
  return { networkHosts: permissions.network ?? [], secrets: permissions.secrets ?? [] };
}

function millisToDuration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

