// What the numbers were measured on: they mean nothing without it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  date: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  commit: string;
  packages: Record<string, string>;
}

/** Packages whose versions decide the numbers. */
const MEASURED_PACKAGES = ['@grpc/grpc-js', '@langchain/langgraph', '@langchain/core', '@mastra/core', '@openai/agents', 'tsx'];

export function packageVersion(name: string): string {
  // The peers are dependencies of bench/; npm hoists them to the root unless versions clash.
  const here = new URL('.', import.meta.url).pathname;
  for (const modules of [`${here}../node_modules`, `${here}../../node_modules`]) {
    try {
      return (JSON.parse(readFileSync(`${modules}/${name}/package.json`, 'utf8')) as { version: string }).version;
    } catch {
      // try the next place
    }
  }
  return 'not installed';
}

export function machineInfo(): MachineInfo {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a git checkout
  }
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    commit,
    packages: Object.fromEntries(MEASURED_PACKAGES.map((name) => [name, packageVersion(name)])),
  };
}
