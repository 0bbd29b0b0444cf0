import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type ServiceName = 'memory' | 'tool-sandbox' | 'agent-host' | 'chain-executor';

export interface ServiceEntry {
  name: ServiceName;
  /** Environment variable every service reads to find this one. */
  addressVariable: string;
  defaultAddress: string;
}

/** Start order: memory first (the others keep their state through it), chain-executor last (it calls all). */
export const SERVICES: readonly ServiceEntry[] = [
  { name: 'memory', addressVariable: 'ELIXIRCHAIN_MEMORY_ADDR', defaultAddress: '127.0.0.1:50052' },
  { name: 'tool-sandbox', addressVariable: 'ELIXIRCHAIN_TOOL_SANDBOX_ADDR', defaultAddress: '127.0.0.1:50053' },
  { name: 'agent-host', addressVariable: 'ELIXIRCHAIN_AGENT_HOST_ADDR', defaultAddress: '127.0.0.1:50051' },
  { name: 'chain-executor', addressVariable: 'ELIXIRCHAIN_CHAIN_EXECUTOR_ADDR', defaultAddress: '127.0.0.1:50054' },
];

export const SERVICE_NAMES: readonly ServiceName[] = SERVICES.map((s) => s.name);

export function serviceEntry(name: string): ServiceEntry {
  const entry = SERVICES.find((s) => s.name === name);
  if (!entry) throw new Error(`unknown service "${name}" (one of: ${SERVICE_NAMES.join(', ')})`);
  return entry;
}

/** Explicit argument > environment variable > default, as everywhere in ElixirChain. */
export function serviceAddress(name: ServiceName, env: NodeJS.ProcessEnv = process.env): string {
  const entry = serviceEntry(name);
  const value = env[entry.addressVariable]?.trim();
  return value ? value : entry.defaultAddress;
}

export function serviceAddresses(env: NodeJS.ProcessEnv = process.env): Record<ServiceName, string> {
  return Object.fromEntries(SERVICES.map((s) => [s.name, serviceAddress(s.name, env)])) as Record<ServiceName, string>;
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function serviceMainPath(name: ServiceName): string {
  return path.join(REPO_ROOT, 'services', name, 'src', 'main.ts');
}
