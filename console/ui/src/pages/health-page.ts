import { useEffect, useState } from 'preact/hooks';
import { api, type ApiErrorBody } from '../api/gateway-api.js';
import { ErrorNotice, errorOf } from '../components/error-notice.js';
import { html } from '../html.js';

/** Each service's grpc.health.v1 answer, refreshed every few seconds. */
export function HealthPage() {
  const [services, setServices] = useState<any[]>([]);
  const [checkedAt, setCheckedAt] = useState<Date | undefined>();
  const [error, setError] = useState<ApiErrorBody | undefined>();
  useEffect(() => {
    let stopped = false;
    const check = () =>
      api.get('/api/health').then(
        (r) => {
          if (stopped) return;
          setServices(r.services);
          setCheckedAt(new Date());
          setError(undefined);
        },
        (e) => !stopped && setError(errorOf(e)),
      );
    void check();
    const timer = setInterval(check, 3000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  return html`<section aria-labelledby="health-title">
    <h1 id="health-title">Mesh health</h1>
    <${ErrorNotice} error=${error} />
    <div class="cards" role="list">
      ${services.map((s) => html`<div class="card" role="listitem" data-service=${s.service}>
        <h2>${s.service}</h2>
        <div><span class=${`badge ${s.status === 'SERVING' ? 'completed' : 'failed'}`}>${s.status}</span></div>
        <div class="muted">${s.address} · ${s.latencyMs} ms</div>
        ${s.detail ? html`<div class="error">${s.detail}</div>` : null}
      </div>`)}
    </div>
    <p class="muted" role="status">${checkedAt ? `Checked ${checkedAt.toLocaleTimeString()} (every 3 s)` : 'Checking…'}</p>
  </section>`;
}
