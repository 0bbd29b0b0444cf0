import { relative } from 'node:path';
import { readBuiltTool } from '../../project/tool-project.js';
import { openSandboxEngine } from '../../engine/sandbox-engine.js';
import { CliError, type CliOutput } from '../cli-output.js';

/**
 * Re-checks a built tool before it is shipped: the manifest is valid, its
 * sha256 matches the bundle's bytes, and the production sandbox engine
 * compiles, links and evaluates the bundle.
 */
export async function verifyCommand(output: CliOutput, options: { project: string; bundle?: string; manifest?: string }) {
  if (!options.bundle) throw new CliError('verify needs a bundle: elixirchain-tool verify dist/<name>-<version>.bundle.mjs (or a .tool.json)');
  const built = await output.step(`checking ${relative(process.cwd(), options.bundle) || options.bundle} against its manifest`, () =>
    readBuiltTool(options.bundle!, options.manifest),
  );
  const { manifest } = built;
  await output.step('compiling it in the sandbox engine', async () => {
    const engine = await openSandboxEngine();
    try {
      await engine.register(manifest, built.code);
    } finally {
      await engine.close();
    }
  });
  output.result({ command: 'verify', name: manifest.name, version: manifest.version, sha256: manifest.bundleSha256, bundle: built.bundlePath }, [
    `Verified ${manifest.name}@${manifest.version}: sha256 ${manifest.bundleSha256.slice(0, 12)}… matches, manifest valid, compiles in the sandbox`,
  ]);
}
