import { useEffect, useState } from 'preact/hooks';
import { api, type ApiErrorBody } from '../api/gateway-api.js';
import { ErrorNotice, errorOf } from '../components/error-notice.js';
import { html } from '../html.js';
import { href } from '../router.js';

/** At most this many agents are looked at for the activity table (one ListThreads each, every refresh). */
const ACTIVITY_AGENTS = 50;

interface AgentActivity {
  agentId: string;
  threads: number;
  running: number;
  queued: number;
  approvals: number;
}

/** What the agents are doing now, read from ListAgents + ListThreads (the services' own view, nothing kept here). */
async function loadActivity(): Promise<AgentActivity[]> {
  const { agents = [] } = await api.get(`/api/agents?pageSize=${ACTIVITY_AGENTS}`);
  return Promise.all(
    agents.map(async (a: any) => {
      const { threads = [] } = await api.get(`/api/threads?agentId=${encodeURIComponent(a.id)}&pageSize=200`);
      return {
        agentId: a.id,
        threads: threads.length,
        running: threads.filter((t: any) => t.currentTurnId).length,
        queued: threads.reduce((n: number, t: any) => n + (t.queuedTurns ?? 0), 0),
        approvals: threads.reduce((n: number, t: any) => n + (t.pendingApprovals?.length ?? 0), 0),
      };
    }),
  );
}

/** Each service's grpc.health.v1 answer, refreshed every few seconds. */
export function HealthPage() {
  const [services, setServices] = useState<any[]>([]);
  const [checkedAt, setCheckedAt] = useState<Date | undefined>();
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [activity, setActivity] = useState<AgentActivity[] | undefined>();
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
    const checkActivity = () => loadActivity().then((a) => !stopped && setActivity(a), () => {});
    void check();
    void checkActivity();
    const activityTimer = setInterval(checkActivity, 3000);
    const timer = setInterval(check, 3000);
    return () => {
      stopped = true;
      clearInterval(timer);
      clearInterval(activityTimer);
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
    <h2 class="section">Agents at work</h2>
    ${activity
      ? html`<table class="list" aria-label="Agent activity">
          <thead><tr><th scope="col">Agent</th><th scope="col">Threads</th><th scope="col">Turns running</th><th scope="col">Messages queued</th><th scope="col">Approvals waiting</th></tr></thead>
          <tbody>
            ${activity.map((a) => html`<tr><td><a href=${href('threads', a.agentId)}>${a.agentId}</a></td><td>${a.threads}</td><td>${a.running}</td><td>${a.queued}</td><td>${a.approvals}</td></tr>`)}
            ${activity.length === 0 ? html`<tr><td colspan="5" class="muted">No agents.</td></tr>` : null}
          </tbody>
        </table>`
      : html`<p class="muted">Loading…</p>`}
    <p class="muted" role="status">${checkedAt ? `Checked ${checkedAt.toLocaleTimeString()} (every 3 s)` : 'Checking…'}</p>
  </section>`;
}
