import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildToolProject } from '../../project/tool-project.js';
import { RUNNING_FROM_SOURCE } from '../../sdk-location.js';
import { CliError, type CliOutput } from '../cli-output.js';

export const PROJECT_ENV = 'ELIXIRCHAIN_TOOL_PROJECT';
export const ENTRY_ENV = 'ELIXIRCHAIN_TOOL_ENTRY';

/**
 * Builds the tool first (so a tool the sandbox cannot load fails here with
 * the build's reason), then runs the project's tests with Node's test runner.
 * Tests reach the production sandbox engine through testTool().
 */
export async function testCommand(output: CliOutput, options: { project: string; files: string[]; entry?: string }): Promise<number> {
  const built = await output.step('bundling the tool with esbuild', () => buildToolProject(options.project, { outDir: false, entry: options.entry }));
  output.info(`  ${built.manifest.name}@${built.manifest.version}: ${(built.manifest.bundleSize / 1024).toFixed(1)} KiB, limits ${built.manifest.limits.memoryMb} MiB / ${built.manifest.limits.timeoutMs} ms`);
  const files = options.files.length > 0 ? options.files : defaultTestFiles(options.project);
  if (files.length === 0) throw new CliError(`no tests in ${options.project}: add test/*.test.ts (elixirchain-tool init writes one)`);
  const args = [
    '--no-node-snapshot',
    // Inside the ElixirChain repository the SDK runs from its sources.
    ...(RUNNING_FROM_SOURCE ? [`--import=${import.meta.resolve('tsx')}`, '--conditions=elixirchain-source'] : []),
    '--test',
    '--test-concurrency=1',
    // A test that forgets tool.close() must not hang the run (its engine worker exits with it).
    '--test-force-exit',
    ...(output.json ? ['--test-reporter=tap'] : []),
    ...files,
  ];
  const started = performance.now();
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.project,
      env: { ...process.env, [PROJECT_ENV]: options.project, ...(options.entry ? { [ENTRY_ENV]: options.entry } : {}) },
      stdio: ['ignore', output.json ? 'pipe' : 'inherit', 'inherit'],
    });
    let text = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    child.on('error', reject);
    child.on('exit', (exitCode, signal) => resolve({ code: exitCode ?? (signal ? 1 : 0), stdout: text }));
  });
  const counts = output.json ? countTap(stdout) : undefined;
  if (code !== 0) {
    if (output.json) {
      output.failure(new CliError(`tests failed (${counts?.fail ?? '?'} of ${(counts?.pass ?? 0) + (counts?.fail ?? 0)})`, { details: { tests: counts, tap: stdout } }));
      return code;
    }
    output.info(`elixirchain-tool: tests failed for ${built.manifest.name}@${built.manifest.version}`);
    return code;
  }
  output.result(
    { command: 'test', name: built.manifest.name, version: built.manifest.version, files, tests: counts, durationMs: Math.round(performance.now() - started) },
    [],
  );
  return 0;
}

function defaultTestFiles(project: string): string[] {
  for (const dir of ['test', 'tests']) {
    if (existsSync(join(project, dir))) return [relative(project, join(project, dir, '**', '*.test.{ts,mts,js,mjs}'))];
  }
  return [];
}

function countTap(tap: string): { pass: number; fail: number } {
  const pass = /^# pass (\d+)/m.exec(tap);
  const fail = /^# fail (\d+)/m.exec(tap);
  return { pass: Number(pass?.[1] ?? 0), fail: Number(fail?.[1] ?? 0) };
}
