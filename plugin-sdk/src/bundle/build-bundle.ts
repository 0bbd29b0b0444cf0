import { createHash } from 'node:crypto';
import { builtinModules } from 'node:module';
import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { tokenizer } from 'acorn';
import * as esbuild from 'esbuild';
import { RUNNING_FROM_SOURCE, SDK_ROOT } from '../sdk-location.js';
import { BundleError } from './bundle-error.js';

export interface BuiltBundle {
  /** One ES module, UTF-8, whose default export is the tool. */
  code: string;
  sha256: string;
  size: number;
  warnings: string[];
}

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

const NODE_API_HINT =
  'tools run in a V8 isolate without Node APIs: use ctx.fetch for HTTP, ctx.secrets for credentials, ctx.log for output, and pure-JavaScript packages for the rest';

/**
 * Bundles a tool's entry module into the single ES module the sandbox runs.
 * Node built-ins and dynamic imports are refused here with their source
 * location, because the sandbox cannot load them and would otherwise fail
 * only when the tool is called.
 */
export async function buildBundle(entry: string, options: { projectDir: string; minify?: boolean }): Promise<BuiltBundle> {
  const refusals: string[] = [];
  const where = (importer: string) => (importer ? relative(options.projectDir, importer) || importer : entry);
  const sandboxRules: esbuild.Plugin = {
    name: 'elixirchain-sandbox-rules',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'dynamic-import') {
          refusals.push(`${where(args.importer)} uses a dynamic import("${args.path}"); the sandbox loads one module, so import it statically`);
          return { path: args.path, external: true };
        }
        if (BUILTINS.has(args.path) || args.path.startsWith('node:')) {
          refusals.push(`${where(args.importer)} imports the Node built-in "${args.path}"; ${NODE_API_HINT}`);
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
  // `import { z } from 'zod'` keeps every zod locale (360 KB) alive through
  // the namespace object; the sandbox compiles the bundle on each call, so
  // keep English and make the others fail loudly if a tool asks for one.
  const zodEnglishOnly: esbuild.Plugin = {
    name: 'elixirchain-zod-english-only',
    setup(build) {
      build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const contents = source.replace(/export \{ default as (\w+) \} from "\.\/[\w-]+\.js";/g, (line, locale: string) =>
          locale === 'en' ? line : `export const ${locale} = () => { throw new Error('zod locale "${locale}" is not bundled into sandbox tools'); };`,
        );
        return { contents, loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  };
  let result: esbuild.BuildResult & { outputFiles: esbuild.OutputFile[] };
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: options.projectDir,
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      target: 'es2024',
      mainFields: ['module', 'main'],
      define: { 'process.env.NODE_ENV': '"production"' },
      minifySyntax: true,
      minifyWhitespace: options.minify === true,
      minifyIdentifiers: options.minify === true,
      legalComments: 'inline',
      logLevel: 'silent',
      plugins: [sandboxRules, zodEnglishOnly, ...(RUNNING_FROM_SOURCE ? [thisSdkFromSource] : [])],
    });
  } catch (error) {
    const failure = error as esbuild.BuildFailure;
    if (refusals.length > 0) throw new BundleError('the tool cannot run in the sandbox', refusals);
    if (Array.isArray(failure.errors)) {
      throw new BundleError('esbuild could not bundle the tool', failure.errors.map((message) => formatMessage(message, options.projectDir)));
    }
    throw error;
  }
  if (refusals.length > 0) throw new BundleError('the tool cannot run in the sandbox', refusals);
  const code = result.outputFiles[0]!.text;
  checkNoDynamicLoading(code);
  const bytes = Buffer.from(code, 'utf8');
  return {
    code,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.byteLength,
    warnings: result.warnings.map((message) => formatMessage(message, options.projectDir)),
  };
}

// esbuild leaves `import(expression)` and `require(expression)` in place
// without a word; both would fail only when the tool runs. Find them in the
// output with a real tokenizer, so strings and comments do not count.
function checkNoDynamicLoading(code: string): void {
  const problems: string[] = [];
  let previous: { type: string; value: unknown } | undefined;
  let beforePrevious: { type: string; value: unknown } | undefined;
  try {
    for (const token of tokenizer(code, { ecmaVersion: 'latest', sourceType: 'module', locations: true })) {
      const label = token.type.label;
      if (label === '(' && previous?.type === 'import' && beforePrevious?.type !== '.') {
        problems.push(`a dynamic import() with a computed module name (bundle line ${token.loc?.start.line}); import the module statically`);
      }
      beforePrevious = previous;
      previous = { type: label, value: (token as unknown as { value: unknown }).value };
    }
  } catch (error) {
    throw new BundleError('the bundle is not a valid ES module', [(error as Error).message]);
  }
  if (code.includes('Dynamic require of "')) {
    problems.push('a require() call that could not be bundled (a computed module name or a CommonJS package that loads files at run time)');
  }
  if (problems.length > 0) throw new BundleError('the tool cannot run in the sandbox', problems);
}

const SDK_SOURCE_ENTRIES: Record<string, string> = { '': 'src/index.ts', '/testing': 'src/testing/index.ts', '/toolchain': 'src/toolchain.ts' };
const SDK_REAL_ROOT = realpathSync(SDK_ROOT);

// Inside the ElixirChain repository this SDK has no dist/: a tool whose
// `@elixirchain/plugin-sdk` is this very package (a workspace link) bundles
// its sources. Any other copy (an installed tarball) resolves as usual.
const thisSdkFromSource: esbuild.Plugin = {
  name: 'elixirchain-sdk-from-source',
  setup(build) {
    build.onResolve({ filter: /^@elixirchain\/plugin-sdk(\/testing|\/toolchain)?$/ }, (args) => {
      for (let dir = args.resolveDir; ; dir = dirname(dir)) {
        const candidate = join(dir, 'node_modules', '@elixirchain', 'plugin-sdk');
        if (existsSync(candidate)) {
          if (realpathSync(candidate) !== SDK_REAL_ROOT) return undefined;
          return { path: join(SDK_REAL_ROOT, SDK_SOURCE_ENTRIES[args.path.slice('@elixirchain/plugin-sdk'.length)]!) };
        }
        if (dirname(dir) === dir) return undefined;
      }
    });
  },
};

function formatMessage(message: esbuild.Message, projectDir: string): string {
  const location = message.location ? `${isAbsolute(message.location.file) ? relative(projectDir, message.location.file) : message.location.file}:${message.location.line}:${message.location.column}: ` : '';
  return `${location}${message.text}`;
}
