import { checkHealth, type ServingStatus } from '../launcher/health-probe.js';
import { SERVICES, serviceAddress, serviceEntry, type ServiceName } from '../launcher/service-catalog.js';
import type { Output } from '../output/output.js';

export interface StatusOptions {
  service?: string;
  /** Keep polling up to this many seconds until every service is SERVING. */
  wait?: number;
}

/** `elixirchain status`: grpc.health.v1 of each service; exit 1 unless all are SERVING. */
export async function runStatus(options: StatusOptions, out: Output): Promise<number> {
  const names: ServiceName[] = options.service ? [serviceEntry(options.service).name] : SERVICES.map((s) => s.name);
  const deadline = Date.now() + (options.wait ?? 0) * 1000;
  let rows: { service: ServiceName; address: string; status: ServingStatus; detail?: string }[];
  for (;;) {
    rows = await Promise.all(
      names.map(async (name) => {
        const address = serviceAddress(name);
        const report = await checkHealth(address);
        return { service: name, address, status: report.status, ...(report.detail ? { detail: report.detail } : {}) };
      }),
    );
    if (rows.every((r) => r.status === 'SERVING') || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  out.result(options.service ? rows[0] : { services: rows }, () => out.table(rows, ['service', 'address', 'status', 'detail']));
  return rows.every((r) => r.status === 'SERVING') ? 0 : 1;
}
