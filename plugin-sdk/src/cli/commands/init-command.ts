import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { SDK_ROOT, SDK_VERSION } from '../../sdk-location.js';
import { checkToolName } from '../../tool/tool-identity.js';
import { CliError, type CliOutput } from '../cli-output.js';
import {
  TEMPLATE_GITIGNORE,
  TEMPLATE_TSCONFIG,
  templatePackageJson,
  templateReadme,
  templateTest,
  templateTool,
  type TemplateOptions,
} from '../templates/project-template.js';

/**
 * Writes a ready tool project into `dir`. An existing package.json (e.g. one
 * made by `npm install @elixirchain/plugin-sdk`) is merged, never replaced;
 * existing source files are left alone unless --force.
 */
export async function initCommand(output: CliOutput, dir: string | undefined, options: { name?: string; force?: boolean }) {
  if (!dir) throw new CliError('init needs a directory: elixirchain-tool init <dir>');
  const projectDir = resolve(dir);
  const toolName = options.name ?? suggestedName(projectDir);
  try {
    checkToolName(toolName);
  } catch (error) {
    throw new CliError(`${(error as Error).message}; pass --name <tool-name>`);
  }
  const sdkPackage = JSON.parse(await readFile(join(SDK_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const template: TemplateOptions = { toolName, sdkVersion: SDK_VERSION, zodRange: sdkPackage.dependencies.zod ?? '^4.0.0' };
  const written: string[] = [];
  await output.step(`creating ${toolName} in ${relative(process.cwd(), projectDir) || '.'}`, async () => {
    await mkdir(join(projectDir, 'src'), { recursive: true });
    await mkdir(join(projectDir, 'test'), { recursive: true });
    const files: Array<[string, string]> = [
      ['tsconfig.json', TEMPLATE_TSCONFIG],
      ['.gitignore', TEMPLATE_GITIGNORE],
      ['README.md', templateReadme(template)],
      ['src/index.ts', templateTool(template)],
      [`test/${toolName}.test.ts`, templateTest(template)],
    ];
    const clashes = files.filter(([path]) => path.startsWith('src/') || path.startsWith('test/')).filter(([path]) => existsSync(join(projectDir, path)));
    if (clashes.length > 0 && !options.force) {
      throw new CliError(`${clashes.map(([path]) => path).join(', ')} already exist in ${projectDir}; pass --force to overwrite`);
    }
    for (const [path, contents] of files) {
      if (!options.force && existsSync(join(projectDir, path)) && !path.startsWith('src/') && !path.startsWith('test/')) continue;
      await writeFile(join(projectDir, path), contents);
      written.push(path);
    }
    await writeFile(join(projectDir, 'package.json'), `${JSON.stringify(await mergedPackageJson(projectDir, template), null, 2)}\n`);
    written.push('package.json');
  });
  const installed = existsSync(join(projectDir, 'node_modules', '@elixirchain', 'plugin-sdk'));
  output.result({ command: 'init', directory: projectDir, tool: toolName, files: written }, [
    `Created ${toolName} in ${projectDir}`,
    '',
    'Next:',
    ...(relative(process.cwd(), projectDir) ? [`  cd ${relative(process.cwd(), projectDir)}`] : []),
    ...(installed ? [] : ['  npm install']),
    '  npx elixirchain-tool test',
    '  npx elixirchain-tool build',
    '  npx elixirchain-tool publish --target 127.0.0.1:50053',
  ]);
}

async function mergedPackageJson(projectDir: string, template: TemplateOptions): Promise<Record<string, unknown>> {
  const fresh = templatePackageJson(template);
  const path = join(projectDir, 'package.json');
  if (!existsSync(path)) return fresh;
  let existing: Record<string, any>;
  try {
    existing = JSON.parse(await readFile(path, 'utf8')) as Record<string, any>;
  } catch (error) {
    throw new CliError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  return {
    ...fresh,
    ...existing,
    type: 'module',
    engines: { ...(fresh.engines as object), ...existing.engines },
    elixirchain: { ...(fresh.elixirchain as object), ...existing.elixirchain },
    scripts: { ...(fresh.scripts as object), ...existing.scripts, ...(isNpmDefaultTestScript(existing.scripts?.test) ? { test: 'elixirchain-tool test' } : {}) },
    // Keep what is installed (e.g. a file: or tarball spec), add what is missing.
    dependencies: { ...(fresh.dependencies as object), ...existing.dependencies },
    devDependencies: { ...(fresh.devDependencies as object), ...existing.devDependencies },
  };
}

// The package's own name when there is one (npm init / npm install made it), else the directory's.
function suggestedName(projectDir: string): string {
  let name = basename(projectDir);
  try {
    const pkg = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof pkg.name === 'string' && pkg.name.length > 0) name = pkg.name.replace(/^@[^/]+\//, '');
  } catch {
    // no package.json yet
  }
  return name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z]+/, '') || 'my-tool';
}

function isNpmDefaultTestScript(script: unknown): boolean {
  return typeof script === 'string' && script.includes('no test specified');
}
