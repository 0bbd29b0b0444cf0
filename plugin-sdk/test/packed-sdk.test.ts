import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startToolSandboxServer, type ToolSandboxServer } from '@elixirchain/tool-sandbox';
import { ToolSandboxClient } from '../src/client/tool-sandbox-client.js';
import { buildToolProject } from '../src/project/tool-project.js';
import type { ToolCallError } from '../src/client/tool-call-error.js';

// The whole path of a third party: `npm pack` the SDK, install the tarball
// into an empty project outside the workspace (no workspace links), then
// init, test, build and publish with the installed CLI, and call the tool
// over gRPC. Slow steps (pack, install) run once for the suite.

const SDK_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
// npm and the tools it starts must run on this Node (24), not an older one on PATH.
const ENV: NodeJS.ProcessEnv = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false' };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, timeoutMs = 240_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

function lastJson(result: Run): any {
  const line = result.stdout.trim().split('\n').at(-1);
  assert.ok(line, `no JSON on stdout; stderr: ${result.stderr}`);
  return JSON.parse(line);
}

describe('the packed SDK in a project outside the workspace', function () {
  this.timeout(300_000);
  const timings: Record<string, number> = {};
  let scratch: string;
  let project: string;
  let server: ToolSandboxServer;
  let client: ToolSandboxClient;
  const cli = (args: string[]) => run(process.execPath, [join(project, 'node_modules', '.bin', 'elixirchain-tool'), ...args], project);
  const timed = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      timings[label] = Math.round(performance.now() - started);
    }
  };

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'elixirchain-sdk-'));
    project = join(scratch, 'word-stats');
    mkdirSync(project);
    const packed = await timed('npm pack (with build)', () => run('npm', ['pack', '--pack-destination', scratch, '--json'], SDK_DIR));
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = join(scratch, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);

    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'word-stats', version: '1.0.0', private: true }, null, 2));
    const installed = await timed('npm install <tarball>', () =>
      run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], project),
    );
    assert.equal(installed.code, 0, installed.stderr);
    server = await timed('start tool-sandbox', () => startToolSandboxServer({ address: '127.0.0.1:0', pool: { workers: 1 } }));
    client = new ToolSandboxClient(server.address);
  });

  after(async () => {
    client?.close();
    await server?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    console.log(`      timings (ms): ${JSON.stringify(timings)}`);
  });

  it('installs as a real package: no workspace links, no sources, only dist', () => {
    const installed = join(project, 'node_modules', '@elixirchain', 'plugin-sdk');
    assert.ok(!lstatSync(installed).isSymbolicLink(), 'the SDK is a copy from the tarball, not a workspace link');
    assert.ok(!existsSync(join(installed, 'src')), 'sources are not published');
    assert.ok(existsSync(join(installed, 'dist', 'index.d.ts')));
    assert.ok(!existsSync(join(project, 'node_modules', '@elixirchain', 'tool-sandbox')), 'no private package installed');
    assert.deepEqual(readdirSync(join(project, 'node_modules', '@elixirchain')), ['plugin-sdk']);
  });

  it('init, test, build, publish, then the tool answers over gRPC', async () => {
    const init = await timed('init', () => cli(['init', '.', '--json']));
    assert.equal(init.code, 0, init.stdout + init.stderr);
    assert.equal(lastJson(init).tool, 'word-stats');
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    assert.match(pkg.dependencies['@elixirchain/plugin-sdk'], /^file:.*\.tgz$/, 'init keeps the installed SDK');
    assert.equal(pkg.scripts.test, 'elixirchain-tool test');

    // The published .d.ts files type the tool and its test (TypeScript from the workspace; the
    // project's own devDependencies are not installed here).
    const workspaceModules = join(SDK_DIR, '..', 'node_modules');
    const typecheck = await timed('tsc on the project', () =>
      run(process.execPath, [join(workspaceModules, 'typescript', 'bin', 'tsc'), '-p', '.', '--typeRoots', join(workspaceModules, '@types'), '--types', 'node'], project),
    );
    assert.equal(typecheck.code, 0, typecheck.stdout + typecheck.stderr);

    const tested = await timed('test', () => cli(['test', '--json']));
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.deepEqual(lastJson(tested).tests, { pass: 2, fail: 0 });

    const built = await timed('build', () => cli(['build', '--json']));
    assert.equal(built.code, 0, built.stdout + built.stderr);
    const { bundle, manifest } = lastJson(built);
    assert.ok(existsSync(bundle) && existsSync(manifest));
    const verified = await timed('verify', () => cli(['verify', bundle, '--json']));
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);

    const published = await timed('publish', () => cli(['publish', '--target', server.address, '--json']));
    assert.equal(published.code, 0, published.stdout + published.stderr);
    assert.deepEqual({ ...lastJson(published), target: undefined, sha256: undefined }, {
      ok: true,
      command: 'publish',
      target: undefined,
      name: 'word-stats',
      version: '1.0.0',
      state: 'active',
      sha256: undefined,
      permissions: { network: [], secrets: [] },
      missingPermissions: { network: [], secrets: [] },
    });

    const result = await client.invokeTool('word-stats', { text: 'Agents call tools. Tools answer!' });
    assert.deepEqual(result.output, { words: 5, characters: 32, sentences: 2, longestWord: 'Agents' });
    assert.equal(result.toolVersion, 'word-stats@1.0.0');

    const invoked = await timed('invoke (CLI)', () => cli(['invoke', 'word-stats', '--input', '{"text":"one two"}', '--target', server.address, '--json']));
    assert.equal(invoked.code, 0, invoked.stdout + invoked.stderr);
    assert.equal(lastJson(invoked).output.words, 2);
  });

  it('a tool using Node APIs, over its limits or off its schema fails `test` with the error production gives', async () => {
    const tools: Record<string, { source: string; input: Record<string, unknown> }> = {
      'node-global': {
        source: `execute: () => ({ count: Number(process.env.COUNT) })`,
        input: {},
      },
      'over-memory': {
        source: `limits: { memoryMb: 16, timeoutMs: 10000 },
  execute: () => { const hoard: number[][] = []; for (;;) hoard.push(new Array(1e6).fill(Math.random())); }`,
        input: {},
      },
      'over-cpu': {
        source: `limits: { timeoutMs: 10000, cpuTimeMs: 200 },
  execute: () => { for (;;) {} }`,
        input: {},
      },
      'bad-output': {
        source: `execute: () => ({ count: 'many' }) as never`,
        input: {},
      },
    };
    for (const [name, { source }] of Object.entries(tools)) {
      writeFileSync(
        join(project, 'src', `${name}.ts`),
        `import { z } from 'zod';\nimport { defineTool } from '@elixirchain/plugin-sdk';\nexport default defineTool({\n  name: '${name}',\n  version: '1.0.0',\n  description: 'A tool that fails.',\n  input: z.object({}),\n  output: z.object({ count: z.number() }),\n  ${source},\n});\n`,
      );
    }
    // What an author would write: call the tool and expect an answer. The
    // test records what it saw so this suite can compare it with production.
    writeFileSync(
      join(project, 'test', 'failing.test.ts'),
      `import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { testTool } from '@elixirchain/plugin-sdk/testing';
const seen: Record<string, unknown> = {};
for (const name of ${JSON.stringify(Object.keys(tools))}) {
  test(name, async () => {
    const tool = await testTool({ entry: 'src/' + name + '.ts' });
    try {
      await tool.invoke({});
    } catch (error) {
      const { code, reason, message } = error as { code: string; reason: string; message: string };
      seen[name] = { code, reason, message };
      throw error;
    } finally {
      await tool.close();
      writeFileSync(process.env.SEEN_FILE!, JSON.stringify(seen));
    }
  });
}
`,
    );
    const seenFile = join(scratch, 'seen.json');
    ENV.SEEN_FILE = seenFile;
    const tested = await timed('test (failing tools)', () => cli(['test', 'test/failing.test.ts', '--json']));
    assert.equal(tested.code, 1, 'test must fail');
    assert.equal(lastJson(tested).ok, false);
    assert.deepEqual(lastJson(tested).error.tests, { pass: 0, fail: 4 });
    const seen = JSON.parse(readFileSync(seenFile, 'utf8')) as Record<string, { code: string; reason: string; message: string }>;

    for (const name of Object.keys(tools)) {
      // Built as `publish` builds (the same toolchain code, in this process to keep the suite quick).
      const built = await buildToolProject(project, { entry: `src/${name}.ts`, outDir: false });
      assert.equal((await client.registerTool(built.manifest, built.code)).state, 'active');
      const production = await client.invokeTool(name, {}).then(
        () => assert.fail(`${name} succeeded in production`),
        (error: ToolCallError) => ({ code: error.code, reason: error.reason, message: error.message }),
      );
      assert.deepEqual(seen[name], production, `${name}: test and production disagree`);
    }
    assert.equal(seen['node-global']!.reason, 'TOOL_ERROR');
    assert.match(seen['node-global']!.message, /process is not defined/);
    assert.equal(seen['over-memory']!.code, 'RESOURCE_EXHAUSTED');
    assert.equal(seen['over-cpu']!.code, 'DEADLINE_EXCEEDED');
    assert.equal(seen['bad-output']!.reason, 'OUTPUT_SCHEMA_VIOLATION');

    // A Node built-in import fails `test` and `publish` alike, before anything runs.
    writeFileSync(
      join(project, 'src', 'node-import.ts'),
      `import { hostname } from 'node:os';\nimport { defineTool } from '@elixirchain/plugin-sdk';\nexport default defineTool({ name: 'node-import', version: '1.0.0', description: 'd', input: { type: 'object' }, output: {}, execute: () => hostname() });\n`,
    );
    writeFileSync(
      join(project, 'test', 'node-import.test.ts'),
      `import { test } from 'node:test';\nimport { testTool } from '@elixirchain/plugin-sdk/testing';\ntest('runs', async () => { const tool = await testTool({ entry: 'src/node-import.ts' }); await tool.close(); });\n`,
    );
    const importTest = await cli(['test', 'test/node-import.test.ts', '--json']);
    assert.equal(importTest.code, 1);
    assert.match(JSON.stringify(lastJson(importTest)), /src\/node-import\.ts imports the Node built-in \\"node:os\\"/);
    const importPublish = await cli(['publish', '--entry', 'src/node-import.ts', '--target', server.address, '--json']);
    assert.equal(importPublish.code, 1);
    assert.match(lastJson(importPublish).error.message, /src\/node-import\.ts imports the Node built-in "node:os"/);
  });
});
