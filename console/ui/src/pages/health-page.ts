import { useEffect, useState } from 'preact/hooks';
import { api, watchStream, type ApiErrorBody } from '../api/gateway-api.js';
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

/** One row per replica, from NodeStatusService (proto3 JSON, zeros left out). */
interface ReplicaRow {
  service: string;
  address: string;
  status?: any;
  error?: ApiErrorBody;
  latencyMs: number;
}

const durationSeconds = (d: { seconds?: number | string; nanos?: number } | undefined) => Number(d?.seconds ?? 0) + (d?.nanos ?? 0) / 1e9;

export function formatUptime(d: { seconds?: number | string; nanos?: number } | undefined): string {
  const s = Math.floor(durationSeconds(d));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

const n = (v: number | string | undefined) => Number(v ?? 0);
const bytes = (v: number | string | undefined) => (n(v) >= 1 << 20 ? `${(n(v) / (1 << 20)).toFixed(1)} MiB` : `${Math.round(n(v) / 1024)} KiB`);
const ratio = (hits: number | string | undefined, misses: number | string | undefined) => {
  const total = n(hits) + n(misses);
  return total ? `${Math.round((n(hits) / total) * 100)}% hits of ${total}` : 'no reads yet';
};

/** What only this kind of service reports: label/value pairs, each a gauge its metrics also export. */
function gaugesOf(status: any): [string, string][] {
  if (status?.agentHost !== undefined) {
    const a = status.agentHost;
    return [
      ['Resident agents', String(n(a.residentAgents))],
      ['Active agents', String(n(a.activeAgents))],
      ['Turns running', String(n(a.runningTurns))],
      ['Mailboxes (total / deepest)', `${n(a.mailboxDepthTotal)} / ${n(a.mailboxDepthMax)}`],
    ];
  }
  if (status?.toolSandbox !== undefined) {
    const t = status.toolSandbox;
    return [
      ['Workers (busy / ready / alive)', `${n(t.busyWorkers)} / ${n(t.readyWorkers)} / ${n(t.workers)}`],
      ['Calls (running / slots)', `${n(t.callsInFlight)} / ${n(t.slots)}`],
      ['Queue', String(n(t.queueDepth))],
    ];
  }
  if (status?.chainExecutor !== undefined) {
    const c = status.chainExecutor;
    return [
      ['Runs executing', String(n(c.activeRuns))],
      ['Runs queued', String(n(c.queuedRuns))],
    ];
  }
  if (status?.memory !== undefined) {
    const m = status.memory;
    const out: [string, string][] = [['Store', m.store ?? '']];
    out.push(['Read cache', m.cache ? `${ratio(m.cache.hits, m.cache.misses)} · ${bytes(m.cache.bytes)} of ${bytes(m.cache.maxBytes)}` : 'off']);
    for (const [name, e] of Object.entries<any>(m.embeddingCaches ?? {})) out.push([`Embeddings (${name})`, ratio(e.hits, e.misses)]);
    return out;
  }
  return [];
}

/** Every replica of every service, live: the gateway reads NodeStatusService of each and streams a snapshot every 2 s. */
function ReplicaTable() {
  const [rows, setRows] = useState<ReplicaRow[] | undefined>();
  const [at, setAt] = useState<string | undefined>();
  const [error, setError] = useState<ApiErrorBody | undefined>();
  useEffect(
    () =>
      watchStream('/api/mesh/status/events?intervalMs=2000', {
        onEvent: (snapshot) => {
          setRows(snapshot.replicas);
          setAt(snapshot.time);
          setError(undefined);
        },
        onError: setError,
      }),
    [],
  );
  const services = [...new Set((rows ?? []).map((r) => r.service))];
  return html`<div>
    <h2 class="section">Replicas</h2>
    <${ErrorNotice} error=${error} />
    ${rows === undefined && !error ? html`<p class="muted">Loading…</p>` : null}
    ${services.map((service) => {
      const replicas = (rows ?? []).filter((r) => r.service === service);
      return html`<table class="list replicas" aria-label=${`Replicas of ${service}`} data-service-replicas=${service}>
        <caption>${service} <span class="muted">(${replicas.length} replica${replicas.length === 1 ? '' : 's'})</span></caption>
        <thead><tr><th scope="col">Instance</th><th scope="col">Up</th><th scope="col">Load</th></tr></thead>
        <tbody>
          ${replicas.map((r) => html`<tr data-replica=${r.address} data-state=${r.error ? 'down' : 'up'}>
            <td><code>${r.address}</code>${r.status?.instanceId ? html`<div class="muted">${r.status.instanceId}</div>` : null}</td>
            <td>${r.error
              ? html`<span class="badge failed">${r.error.codeName}</span><div class="error">${r.error.message}</div>`
              : html`<span class="badge completed">up</span> <span class="muted">${formatUptime(r.status?.uptime)} · ${r.latencyMs} ms</span>`}</td>
            <td>${r.status ? html`<dl class="gauges">${gaugesOf(r.status).map(([label, value]) => html`<dt>${label}</dt><dd data-gauge=${label}>${value}</dd>`)}</dl>` : null}</td>
          </tr>`)}
        </tbody>
      </table>`;
    })}
    <p class="muted" role="status">${at ? `Live: read ${new Date(at).toLocaleTimeString()} (every 2 s)` : ''}</p>
  </div>`;
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
    <${ReplicaTable} />
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
