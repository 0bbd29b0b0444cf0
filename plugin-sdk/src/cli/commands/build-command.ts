import { relative } from 'node:path';
import { buildToolProject, type BuiltTool } from '../../project/tool-project.js';
import type { CliOutput } from '../cli-output.js';

export async function buildCommand(output: CliOutput, options: { project: string; out?: string; entry?: string; minify?: boolean }): Promise<BuiltTool> {
  const built = await output.step('bundling the tool with esbuild', () =>
    buildToolProject(options.project, { outDir: options.out, entry: options.entry, minify: options.minify }),
  );
  for (const warning of built.warnings) output.info(`  warning: ${warning}`);
  const { manifest } = built;
  output.result(
    {
      command: 'build',
      name: manifest.name,
      version: manifest.version,
      bundle: built.bundlePath,
      manifest: built.manifestPath,
      sha256: manifest.bundleSha256,
      size: manifest.bundleSize,
      permissions: manifest.permissions,
      warnings: built.warnings,
    },
    [
      `Built ${manifest.name}@${manifest.version} (${(manifest.bundleSize / 1024).toFixed(1)} KiB, sha256 ${manifest.bundleSha256.slice(0, 12)}…)`,
      `  bundle:   ${relative(process.cwd(), built.bundlePath!)}`,
      `  manifest: ${relative(process.cwd(), built.manifestPath!)}`,
    ],
  );
  return built;
}
