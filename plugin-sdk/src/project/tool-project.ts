import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { buildBundle } from '../bundle/build-bundle.js';
import { BundleError } from '../bundle/bundle-error.js';
import { checkManifest, createManifest, ManifestError, readBundleMetadata, type ToolManifest } from '../manifest/tool-manifest.js';
import { SDK_VERSION } from '../sdk-location.js';

/** A built tool: the bundle's code and its manifest, and where they were written. */
export interface BuiltTool {
  manifest: ToolManifest;
  code: string;
  bundlePath?: string;
  manifestPath?: string;
  warnings: string[];
}

export interface BuildOptions {
  /** Entry module; default: package.json "elixirchain.entry", else src/index.ts. */
  entry?: string;
  /** Where to write; default <project>/dist. Set to false to build in memory only. */
  outDir?: string | false;
  minify?: boolean;
}

const PACK_FORMAT = 'elixirchain-tool-pack/1';

export function resolveToolEntry(projectDir: string, entry?: string): string {
  if (entry !== undefined) {
    const path = isAbsolute(entry) ? entry : resolve(projectDir, entry);
    if (!existsSync(path)) throw new BundleError(`the entry ${entry} does not exist`);
    return path;
  }
  const packagePath = join(projectDir, 'package.json');
  if (existsSync(packagePath)) {
    const pkg = JSON.parse(readFileSync(packagePath, 'utf8')) as { elixirchain?: { entry?: string } };
    if (pkg.elixirchain?.entry) return resolveToolEntry(projectDir, pkg.elixirchain.entry);
  }
  for (const candidate of ['src/index.ts', 'src/index.js', 'index.ts', 'index.js']) {
    const path = join(projectDir, candidate);
    if (existsSync(path)) return path;
  }
  throw new BundleError(`no tool entry in ${projectDir}: create src/index.ts or set "elixirchain": { "entry": "..." } in package.json`);
}

/** Bundles the project's tool and writes `<name>-<version>.bundle.mjs` and `.manifest.json`. */
export async function buildToolProject(projectDir: string, options: BuildOptions = {}): Promise<BuiltTool> {
  const dir = resolve(projectDir);
  const entry = resolveToolEntry(dir, options.entry);
  const bundle = await buildBundle(entry, { projectDir: dir, minify: options.minify });
  const metadata = await readBundleMetadata(bundle.code);
  const manifest = createManifest(metadata, bundle, SDK_VERSION);
  const built: BuiltTool = { manifest, code: bundle.code, warnings: bundle.warnings };
  if (options.outDir !== false) {
    const outDir = resolve(dir, options.outDir ?? 'dist');
    await mkdir(outDir, { recursive: true });
    const stem = `${manifest.name}-${manifest.version}`;
    built.bundlePath = join(outDir, `${stem}.bundle.mjs`);
    built.manifestPath = join(outDir, `${stem}.manifest.json`);
    await writeFile(built.bundlePath, bundle.code);
    await writeFile(built.manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  return built;
}

/** One file holding manifest and bundle, for moving a tool between machines. */
export async function packTool(built: BuiltTool, outFile: string): Promise<string> {
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(outFile, `${JSON.stringify({ format: PACK_FORMAT, manifest: built.manifest, bundle: built.code })}\n`);
  return outFile;
}

/**
 * Reads a built tool from a `.bundle.mjs` (with its `.manifest.json` beside
 * it, or the one named) or from a `.tool.json` pack, checking that the
 * manifest is valid and that its sha256 matches the bundle's bytes.
 */
export async function readBuiltTool(path: string, manifestPath?: string): Promise<BuiltTool> {
  const file = resolve(path);
  if (!existsSync(file)) throw new ManifestError(`${path} does not exist`);
  const text = await readFile(file, 'utf8');
  if (file.endsWith('.tool.json')) {
    let pack: { format?: string; manifest?: unknown; bundle?: unknown };
    try {
      pack = JSON.parse(text) as typeof pack;
    } catch (error) {
      throw new ManifestError(`${basename(file)} is not JSON: ${(error as Error).message}`);
    }
    if (pack.format !== PACK_FORMAT || typeof pack.bundle !== 'string') throw new ManifestError(`${basename(file)} is not an ${PACK_FORMAT} file`);
    return { manifest: checkManifest(pack.manifest, Buffer.from(pack.bundle, 'utf8')), code: pack.bundle, bundlePath: file, warnings: [] };
  }
  const manifestFile = manifestPath ? resolve(manifestPath) : file.replace(/(\.bundle)?\.m?js$/, '.manifest.json');
  if (manifestFile === file || !existsSync(manifestFile)) {
    throw new ManifestError(`no manifest beside ${basename(file)} (expected ${basename(manifestFile)}); pass --manifest <file>`);
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
  } catch (error) {
    throw new ManifestError(`${basename(manifestFile)} is not JSON: ${(error as Error).message}`);
  }
  return {
    manifest: checkManifest(manifest, await readFile(file)),
    code: text,
    bundlePath: file,
    manifestPath: manifestFile,
    warnings: [],
  };
}
