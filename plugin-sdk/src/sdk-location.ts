import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// In the ElixirChain repository the SDK runs from its TypeScript sources; once
// installed from npm it runs from dist/. Both sit one level below the root.
const here = dirname(fileURLToPath(import.meta.url));

export const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts');

export const SDK_ROOT = findPackageRoot(here);

export const SDK_VERSION: string = (JSON.parse(readFileSync(join(SDK_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === '@elixirchain/plugin-sdk') return dir;
    } catch {
      // no package.json here; keep climbing
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the @elixirchain/plugin-sdk package.json above ${start}`);
    dir = parent;
  }
}
