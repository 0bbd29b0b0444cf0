// Builds the publishable package into dist/:
// - JavaScript: esbuild bundles the SDK's entry points. Workspace packages
//   (@elixirchain/proto's generated sandbox client, @elixirchain/tool-sandbox's
//   engine) are private and never published, so their code is bundled in:
//   the test harness runs literally the same engine code as production.
//   Every other package stays an import and must be a declared dependency.
// - Types: tsc emits .d.ts for the public entry points, which must not
//   mention a private workspace package.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const dependencies = Object.keys(pkg.dependencies);
const builtins = new Set(builtinModules);
const started = performance.now();

rmSync(join(root, 'dist'), { recursive: true, force: true });

const workspace = join(root, '..');
// The sandbox library needs only the runtime's error types, not its servers,
// telemetry and logging: bundle just that part.
const workspaceAliases: Record<string, string> = {
  '@elixirchain/runtime': join(workspace, 'services/runtime/src/core.ts'),
  '@elixirchain/tool-sandbox': join(workspace, 'services/tool-sandbox/src/sandbox/tool-sandbox.ts'),
};
const workerEntry = join(workspace, 'services/tool-sandbox/src/engine/tool-worker-main.ts');

// In the repository the sandbox forks its worker from TypeScript through tsx;
// in the published package the worker is dist/engine/tool-worker-main.js and
// plain Node runs it. Every rewrite must match, or the build stops.
const workerRewrites: Array<[RegExp, string]> = [
  [/new URL\('\.\/tool-worker-main\.ts', import\.meta\.url\)/, "new URL(import.meta.url.slice(0, import.meta.url.lastIndexOf('/dist/') + 6) + 'engine/tool-worker-main.js')"],
  [/const TSX_LOADER = import\.meta\.resolve\('tsx'\);/, 'const TSX_LOADER = undefined;'],
  [/`--import=\$\{TSX_LOADER\}`, /, ''],
];
const problems: string[] = [];
const workspaceCode: esbuild.Plugin = {
  name: 'sdk-workspace-code',
  setup(build) {
    build.onResolve({ filter: /^@elixirchain\/(runtime|tool-sandbox)$/ }, (args) => ({ path: workspaceAliases[args.path]! }));
    build.onLoad({ filter: /[\\/]services[\\/]tool-sandbox[\\/]src[\\/]engine[\\/]tool-worker\.ts$/ }, (args) => {
      let source = readFileSync(args.path, 'utf8');
      for (const [pattern, replacement] of workerRewrites) {
        if (!pattern.test(source)) {
          problems.push(`the sandbox's worker spawner changed (${pattern} not found in ${args.path}); update scripts/build.ts`);
        }
        source = source.replace(pattern, replacement);
      }
      return { contents: source, loader: 'ts' };
    });
  },
};
const dependencyPolicy: esbuild.Plugin = {
  name: 'sdk-dependency-policy',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@elixirchain/')) return undefined; // bundled
      if (args.path.startsWith('node:') || builtins.has(args.path.split('/')[0]!)) return { path: args.path, external: true };
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0]!;
      if (!dependencies.includes(name)) {
        problems.push(`${args.path} (imported by ${args.importer.replace(`${root}/`, '')}) is not a dependency of @elixirchain/plugin-sdk`);
      }
      return { path: args.path, external: true };
    });
  },
};

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    toolchain: 'src/toolchain.ts',
    'cli/run': 'src/cli/run.ts',
    'engine/tool-worker-main': workerEntry,
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node24',
  conditions: ['elixirchain-source'],
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  metafile: true,
  plugins: [workspaceCode, dependencyPolicy],
});
if (problems.length > 0) {
  console.error(`build failed:\n  ${[...new Set(problems)].join('\n  ')}`);
  process.exit(1);
}

// Declarations through the workspace's TypeScript.
const tsc = join(root, '..', 'node_modules', 'typescript', 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

const leaks: string[] = [];
for (const file of walk(join(root, 'dist'))) {
  if (!file.endsWith('.d.ts')) continue;
  const text = readFileSync(file, 'utf8');
  const match = /from ['"](@elixirchain\/(?!plugin-sdk)[^'"]+)['"]/.exec(text);
  if (match) leaks.push(`${file.replace(`${root}/`, '')} refers to the private package ${match[1]}`);
}
if (leaks.length > 0) {
  console.error(`build failed: published types must stand alone:\n  ${leaks.join('\n  ')}`);
  process.exit(1);
}

// The entry tools import ends up inside every tool bundle: it must not reach Node.
const toolFacing = Object.entries(result.metafile.outputs).find(([file]) => file === 'dist/index.js');
const reached = new Set<string>();
const visit = (file: string) => {
  for (const imported of result.metafile.outputs[file]?.imports ?? []) {
    if (imported.external) reached.add(imported.path);
    else if (!reached.has(imported.path)) {
      reached.add(imported.path);
      visit(imported.path);
    }
  }
};
if (toolFacing) visit(toolFacing[0]);
const nodeImports = [...reached].filter((path) => path.startsWith('node:') || builtins.has(path));
if (nodeImports.length > 0) {
  console.error(`build failed: dist/index.js (bundled into every tool) reaches Node built-ins: ${nodeImports.join(', ')}`);
  process.exit(1);
}

const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.error(`built dist/ (${(bytes / 1024).toFixed(0)} KiB of JavaScript) in ${Math.round(performance.now() - started)} ms`);

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}
