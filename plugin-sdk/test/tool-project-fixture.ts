import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { main } from '../src/cli/main.js';

const WORKSPACE_NODE_MODULES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules');

/** A throwaway tool project that resolves zod and the SDK from the workspace. */
export class ToolProjectFixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'elixirchain-tool-'));

  constructor(files: Record<string, string>) {
    symlinkSync(WORKSPACE_NODE_MODULES, join(this.dir, 'node_modules'), 'dir');
    writeFileSync(join(this.dir, 'package.json'), JSON.stringify({ name: 'fixture', type: 'module', private: true }));
    for (const [path, contents] of Object.entries(files)) this.write(path, contents);
  }

  write(path: string, contents: string): void {
    mkdirSync(dirname(join(this.dir, path)), { recursive: true });
    writeFileSync(join(this.dir, path), contents);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs the CLI in this process with --json and returns its exit code and parsed output. */
export async function runCli(args: string[]): Promise<{ code: number; json: any; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  const code = await main([...args, '--json'], { stdout, stderr });
  return { code, json: out.trim() ? JSON.parse(out.trim().split('\n').at(-1)!) : undefined, stderr: err };
}

export const ADDER_TOOL = `import { z } from 'zod';
import { defineTool } from '@elixirchain/plugin-sdk';
export default defineTool({
  name: 'adder',
  version: '1.0.0',
  description: 'Adds two numbers.',
  input: z.object({ a: z.number(), b: z.number() }),
  output: z.object({ sum: z.number() }),
  annotations: { readOnly: true, idempotent: true },
  permissions: { network: ['api.example.com'], secrets: ['ADDER_KEY'] },
  limits: { memoryMb: 16, timeoutMs: 1500 },
  retry: { maxAttempts: 2 },
  execute: ({ a, b }) => ({ sum: a + b }),
});
`;
