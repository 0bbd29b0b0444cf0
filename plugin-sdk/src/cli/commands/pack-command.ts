import { relative, resolve } from 'node:path';
import { buildToolProject, packTool, readBuiltTool } from '../../project/tool-project.js';
import type { CliOutput } from '../cli-output.js';

/** Writes `<name>-<version>.tool.json`: manifest and bundle in one file, for moving a tool between machines. */
export async function packCommand(output: CliOutput, options: { project: string; bundle?: string; out?: string; entry?: string }) {
  const built = options.bundle
    ? await output.step(`reading ${options.bundle}`, () => readBuiltTool(options.bundle!))
    : await output.step('bundling the tool with esbuild', () => buildToolProject(options.project, { entry: options.entry }));
  const file = resolve(options.out ?? resolve(options.project, `${built.manifest.name}-${built.manifest.version}.tool.json`));
  await output.step(`writing ${relative(process.cwd(), file)}`, () => packTool(built, file));
  output.result({ command: 'pack', name: built.manifest.name, version: built.manifest.version, file, sha256: built.manifest.bundleSha256 }, [
    `Packed ${built.manifest.name}@${built.manifest.version} into ${relative(process.cwd(), file)}`,
  ]);
}
