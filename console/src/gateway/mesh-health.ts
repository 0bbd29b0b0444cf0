import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import type { MeshAddressBook, MeshServiceKey } from './mesh-connections.js';

export interface ServiceHealth {
  service: string;
  address: string;
  /** grpc.health.v1 status, or UNREACHABLE when the check itself failed. */
  status: 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN' | 'UNREACHABLE';
  detail?: string;
  latencyMs: number;
}

const NAMES: Record<MeshServiceKey, string> = { memory: 'memory', toolSandbox: 'tool-sandbox', agentHost: 'agent-host', chainExecutor: 'chain-executor' };
const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
const HealthClient = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, 'Health');
type HealthCheck = (req: { service: string }, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string | number }) => void) => void;

/** One grpc.health.v1 Check per service, in parallel: the mesh health page reads what each service says of itself. */
export async function checkMeshHealth(addresses: MeshAddressBook, timeoutMs = 2000): Promise<ServiceHealth[]> {
  return Promise.all((Object.keys(NAMES) as MeshServiceKey[]).map((key) => checkOne(NAMES[key], addresses[key], timeoutMs)));
}

function checkOne(service: string, address: string, timeoutMs: number): Promise<ServiceHealth> {
  const started = performance.now();
  const client = new HealthClient(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    (client as unknown as { Check: HealthCheck }).Check({ service: '' }, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      const latencyMs = Math.round((performance.now() - started) * 10) / 10;
      if (err) {
        resolve({ service, address, status: err.code === grpc.status.NOT_FOUND ? 'SERVICE_UNKNOWN' : 'UNREACHABLE', detail: `${grpc.status[err.code]}: ${err.details}`, latencyMs });
        return;
      }
      const raw = res?.status ?? 0;
      resolve({ service, address, status: (typeof raw === 'number' ? STATUS_NAMES[raw] : (raw as ServiceHealth['status'])) ?? 'UNKNOWN', latencyMs });
    });
  });
}
