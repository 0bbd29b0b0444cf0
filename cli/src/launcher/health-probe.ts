import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN' | 'UNREACHABLE';

export interface HealthReport {
  status: ServingStatus;
  /** Why it is not SERVING, e.g. the transport error. */
  detail?: string;
}

const HealthClient = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, 'Health');
type HealthCheck = {
  Check(req: { service: string }, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string | number }) => void): void;
};
const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

/** One grpc.health.v1 Check against an address (insecure, as the local mesh runs). */
export function checkHealth(address: string, service = '', timeoutMs = 2000): Promise<HealthReport> {
  const client = new HealthClient(address, grpc.credentials.createInsecure());
  return new Promise<HealthReport>((resolve) => {
    (client as unknown as HealthCheck).Check(
      { service },
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, res?: { status: string | number }) => {
        client.close();
        if (err) {
          const status: ServingStatus = err.code === grpc.status.NOT_FOUND ? 'SERVICE_UNKNOWN' : 'UNREACHABLE';
          const detail = /ECONNREFUSED/.test(err.details) ? 'connection refused' : `${grpc.status[err.code] ?? err.code}: ${err.details}`;
          resolve({ status, detail });
          return;
        }
        const raw = res?.status ?? 0;
        resolve({ status: (typeof raw === 'number' ? STATUS_NAMES[raw] : (raw as ServingStatus)) ?? 'UNKNOWN' });
      },
    );
  });
}

/** Polls until SERVING; rejects with the last report when the deadline passes or `abandon` fires. */
export async function waitForServing(
  address: string,
  options: { timeoutMs: number; service?: string; signal?: AbortSignal; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let last: HealthReport;
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason instanceof Error ? options.signal.reason : new Error('aborted');
    last = await checkHealth(address, options.service ?? '', Math.min(2000, Math.max(200, deadline - Date.now())));
    if (last.status === 'SERVING') return;
    if (Date.now() >= deadline) {
      throw new Error(`${address} did not report SERVING within ${Math.round(options.timeoutMs / 1000)} s (last: ${last.status}${last.detail ? `, ${last.detail}` : ''})`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 150));
  }
}

