import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { GetNodeStatusResponse, NodeStatusServiceDefinition } from '@elixirchain/proto/admin/node-status';
import { connect, type CallOptions, type ServiceClient } from '@elixirchain/runtime';
import { errorBody, type ErrorBody } from './http-error.js';
import { browserClientOptions, type MeshAddressBook, type MeshServiceKey } from './mesh-connections.js';

/** Replica addresses per service when they are not all behind one DNS name (host:port each). */
export type ReplicaAddressBook = Partial<Record<MeshServiceKey, string[]>>;

/** One row of the mesh health page: one process of one service. */
export interface ReplicaStatus {
  service: string;
  /** The address the console called. */
  address: string;
  /** The NodeStatus as proto3 JSON, when the call succeeded. */
  status?: Record<string, unknown>;
  /** Why it did not (UNAVAILABLE for a replica that is down, PERMISSION_DENIED for a key that is not an admin's). */
  error?: ErrorBody['error'];
  latencyMs: number;
}

export const SERVICE_NAMES: Record<MeshServiceKey, string> = { memory: 'memory', toolSandbox: 'tool-sandbox', agentHost: 'agent-host', chainExecutor: 'chain-executor' };

/** The ELIXIRCHAIN_<SERVICE>_REPLICAS variables, e.g. ELIXIRCHAIN_AGENT_HOST_REPLICAS=10.0.0.5:50051,10.0.0.6:50051. */
export function replicaAddressesFromEnv(env: NodeJS.ProcessEnv = process.env): ReplicaAddressBook {
  const book: ReplicaAddressBook = {};
  for (const [key, name] of Object.entries(SERVICE_NAMES) as [MeshServiceKey, string][]) {
    const variable = `ELIXIRCHAIN_${name.toUpperCase().replace('-', '_')}_REPLICAS`;
    const list = (env[variable] ?? '').split(',').map((a) => a.trim()).filter(Boolean);
    if (list.length > 0) book[key] = list;
  }
  return book;
}

/**
 * host:port as every replica behind it: each address a host name resolves to
 * (Docker Compose's service names and a Kubernetes headless Service answer one
 * per replica), or the address itself for an IP, a single answer or no answer.
 */
async function everyAddressOf(address: string): Promise<string[]> {
  const split = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  const host = split?.[1] ?? split?.[2];
  if (!split || !host || isIP(host) || host === 'localhost') return [address];
  try {
    const all = await lookup(host, { all: true });
    // A dual-stack name answers each host twice: keep one family.
    const resolved = all.some((r) => r.family === 4) ? all.filter((r) => r.family === 4) : all;
    const unique = [...new Set(resolved.map((r) => (r.family === 6 ? `[${r.address}]:${split[3]}` : `${r.address}:${split[3]}`)))];
    return unique.length > 1 ? unique.sort() : [address];
  } catch {
    return [address];
  }
}

/**
 * Reads NodeStatusService/GetNodeStatus of every replica of every service.
 * A service's replicas are its ELIXIRCHAIN_<SERVICE>_REPLICAS list when given,
 * else its mesh address; each entry counts as every address its name resolves to.
 * The browser's credentials travel on, as for every other call.
 */
export class MeshStatusReader {
  private readonly clients = new Map<string, ServiceClient<typeof NodeStatusServiceDefinition>>();

  constructor(
    private readonly addresses: MeshAddressBook,
    private readonly replicas: ReplicaAddressBook = {},
    private readonly timeoutMs = 2000,
  ) {}

  async read(options: Pick<CallOptions, 'signal' | 'metadata'> = {}): Promise<ReplicaStatus[]> {
    const targets = (
      await Promise.all(
        (Object.keys(SERVICE_NAMES) as MeshServiceKey[]).map(async (key) => (await this.replicaAddresses(key)).map((address) => ({ service: SERVICE_NAMES[key], address }))),
      )
    ).flat();
    const rows = await Promise.all(targets.map((t) => this.readOne(t.service, t.address, options)));
    // Forget clients of replicas that went away (a restarted container comes back on another address).
    const live = new Set(targets.map((t) => t.address));
    for (const [address, client] of this.clients) {
      if (!live.has(address)) {
        client.close();
        this.clients.delete(address);
      }
    }
    return rows;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private async replicaAddresses(key: MeshServiceKey): Promise<string[]> {
    const listed = this.replicas[key];
    const expanded = await Promise.all((listed?.length ? listed : [this.addresses[key]]).map(everyAddressOf));
    return [...new Set(expanded.flat())];
  }

  private async readOne(service: string, address: string, options: Pick<CallOptions, 'signal' | 'metadata'>): Promise<ReplicaStatus> {
    let client = this.clients.get(address);
    if (!client) {
      // One attempt: a replica that is down is shown as down, not retried for seconds.
      client = connect(NodeStatusServiceDefinition, address, { ...browserClientOptions(), maxAttempts: 1, defaultTimeoutMs: this.timeoutMs });
      this.clients.set(address, client);
    }
    const started = performance.now();
    const latency = () => Math.round((performance.now() - started) * 10) / 10;
    try {
      const response = await client.getNodeStatus({}, { ...options, timeoutMs: this.timeoutMs });
      const json = GetNodeStatusResponse.toJSON(response) as { status?: Record<string, unknown> };
      return { service, address, status: json.status ?? {}, latencyMs: latency() };
    } catch (error) {
      return { service, address, error: errorBody(error).body.error, latencyMs: latency() };
    }
  }
}
