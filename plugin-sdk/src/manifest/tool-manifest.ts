import { createHash } from 'node:crypto';
import { checkContextReuse, isTool, type ToolMetadata } from '../tool/define-tool.js';
import { toJsonSchema } from '../tool/tool-schema.js';
import { checkToolName, checkToolVersion } from '../tool/tool-identity.js';
import type { JsonSchema, ToolAnnotations, ToolContextReuse, ToolLimits, ToolPermissions, ToolRetryPolicy } from '../tool/tool-types.js';

export const MANIFEST_FORMAT = 1;

/** The manifest JSON that `build` writes next to the bundle; the same fields the sandbox's RegisterTool takes. */
export interface ToolManifest {
  manifestFormat: number;
  name: string;
  version: string;
  description: string;
  inputSchema: JsonSchema;
  outputSchema: JsonSchema;
  annotations: Required<ToolAnnotations>;
  permissions: Required<ToolPermissions>;
  limits: Required<ToolLimits>;
  retry: Required<ToolRetryPolicy>;
  /** Opt-in context reuse; absent (manifests before it, and tools that did not opt in): a fresh context per call. */
  contextReuse?: Required<ToolContextReuse>;
  bundleSha256: string;
  bundleSize: number;
  /** The SDK version that built the bundle, for support questions. */
  sdkVersion: string;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export function createManifest(metadata: ToolMetadata, bundle: { sha256: string; size: number }, sdkVersion: string): ToolManifest {
  return {
    manifestFormat: MANIFEST_FORMAT,
    name: metadata.name,
    version: metadata.version,
    description: metadata.description,
    inputSchema: metadata.inputSchema,
    outputSchema: metadata.outputSchema,
    annotations: metadata.annotations,
    permissions: metadata.permissions,
    limits: metadata.limits,
    retry: metadata.retry,
    ...(metadata.contextReuse && { contextReuse: metadata.contextReuse }),
    bundleSha256: bundle.sha256,
    bundleSize: bundle.size,
    sdkVersion,
  };
}

/**
 * Loads a bundle as a module in this process to read what `defineTool`
 * recorded. It is the author's own code on the author's machine, as with
 * any build step; the sandbox later runs the very same bytes.
 */
export async function readBundleMetadata(code: string): Promise<ToolMetadata> {
  let namespace: { default?: unknown };
  try {
    namespace = (await import(`data:text/javascript;base64,${Buffer.from(code, 'utf8').toString('base64')}`)) as { default?: unknown };
  } catch (error) {
    throw new ManifestError(`loading the tool module failed: ${(error as Error).message}`);
  }
  const tool = namespace.default;
  if (!isTool(tool)) {
    throw new ManifestError(
      tool === undefined
        ? 'the tool module has no default export: end it with `export default defineTool({ ... })`'
        : 'the default export is not a tool made by defineTool() from @elixirchain/plugin-sdk',
    );
  }
  return tool.metadata;
}

export function sha256Hex(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Checks a manifest read from disk: shape, identity, schemas, and that it belongs to this bundle. */
export function checkManifest(value: unknown, bundleBytes?: Uint8Array): ToolManifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ManifestError('the manifest is not a JSON object');
  const manifest = value as ToolManifest;
  if (manifest.manifestFormat !== MANIFEST_FORMAT) {
    throw new ManifestError(`manifestFormat is ${JSON.stringify(manifest.manifestFormat)}; this SDK reads format ${MANIFEST_FORMAT}`);
  }
  try {
    checkToolName(manifest.name);
    checkToolVersion(manifest.version);
    toJsonSchema('input', manifest.inputSchema);
    toJsonSchema('output', manifest.outputSchema);
    checkContextReuse(manifest.contextReuse);
  } catch (error) {
    throw new ManifestError(`the manifest is invalid: ${(error as Error).message}`);
  }
  for (const field of ['annotations', 'permissions', 'limits', 'retry'] as const) {
    if (typeof manifest[field] !== 'object' || manifest[field] === null) throw new ManifestError(`the manifest has no ${field}`);
  }
  if (!/^[0-9a-f]{64}$/.test(manifest.bundleSha256 ?? '')) throw new ManifestError('bundleSha256 is not a hex sha256');
  if (bundleBytes !== undefined) {
    const actual = sha256Hex(bundleBytes);
    if (actual !== manifest.bundleSha256) {
      throw new ManifestError(`the bundle's sha256 is ${actual} but the manifest says ${manifest.bundleSha256}: the bundle was changed after build`);
    }
  }
  return manifest;
}
