// Builds the example tools into plugin-sdk/examples/dist/ (or a directory
// you name): `<name>-<version>.bundle.mjs` + `.manifest.json` for each.
// Used by the SDK's tests and by the launcher to seed a demo agent:
//
//   import { buildExampleTools } from '../../plugin-sdk/examples/build-examples.ts';
//   const [calculator] = await buildExampleTools({ names: ['calculator'] });
//   await client.registerTool(calculator.manifest, calculator.code)   // or RegisterTool with the same fields
//
// or from a shell: npm run build:examples -w @elixirchain/plugin-sdk
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildToolProject, type BuiltTool } from '../src/project/tool-project.js';

export const EXAMPLES_DIR = dirname(fileURLToPath(import.meta.url));
export const EXAMPLE_NAMES = ['calculator', 'weather', 'prime-counter', 'webhook-signer'] as const;
export type ExampleName = (typeof EXAMPLE_NAMES)[number];

export async function buildExampleTools(options: { names?: readonly ExampleName[]; outDir?: string } = {}): Promise<BuiltTool[]> {
  const outDir = options.outDir ?? join(EXAMPLES_DIR, 'dist');
  const built: BuiltTool[] = [];
  for (const name of options.names ?? EXAMPLE_NAMES) {
    built.push(await buildToolProject(join(EXAMPLES_DIR, name), { outDir }));
  }
  return built;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const tool of await buildExampleTools()) {
    console.log(`${tool.manifest.name}@${tool.manifest.version}  ${tool.bundlePath}`);
  }
}
