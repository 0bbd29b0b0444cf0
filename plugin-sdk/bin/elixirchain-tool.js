#!/usr/bin/env node
// Entry of the `elixirchain-tool` command. Checks the Node version, then runs
// the CLI in a Node started with the flags the sandbox engine (isolated-vm)
// needs. Inside the ElixirChain repository it runs the TypeScript sources.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`elixirchain-tool: needs Node.js 24 or newer; this is ${process.version} (${process.execPath})\n`);
  process.exit(1);
}

const sourceEntry = fileURLToPath(new URL('../src/cli/run.ts', import.meta.url));
const distEntry = fileURLToPath(new URL('../dist/cli/run.js', import.meta.url));
const fromSource = existsSync(sourceEntry);
const entry = fromSource ? sourceEntry : distEntry;
if (!existsSync(entry)) {
  process.stderr.write(`elixirchain-tool: ${entry} is missing; reinstall @elixirchain/plugin-sdk\n`);
  process.exit(1);
}

// tsx is the repository's, found from here rather than from the caller's directory.
const flags = ['--no-node-snapshot', ...(fromSource ? [`--import=${import.meta.resolve('tsx')}`, '--conditions=elixirchain-source'] : [])];
const child = spawn(process.execPath, [...flags, entry, ...process.argv.slice(2)], { stdio: 'inherit' });
// Ctrl-C reaches the child too (same process group); it decides how to stop.
process.on('SIGINT', () => {});
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
