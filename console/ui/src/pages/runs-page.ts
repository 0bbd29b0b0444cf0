import { useEffect, useRef, useState } from 'preact/hooks';
import { api, query, watchStream, type ApiErrorBody } from '../api/gateway-api.js';
import { ErrorNotice, errorOf } from '../components/error-notice.js';
import { formatDuration, JsonView, shortEnum } from '../components/json-view.js';
import { TraceLink } from '../components/trace-link.js';
import { html } from '../html.js';
import { href } from '../router.js';

const STATUSES = ['RUN_STATUS_PENDING', 'RUN_STATUS_RUNNING', 'RUN_STATUS_PAUSED', 'RUN_STATUS_SUCCEEDED', 'RUN_STATUS_FAILED', 'RUN_STATUS_CANCELLED'];
const FINAL = ['RUN_STATUS_SUCCEEDED', 'RUN_STATUS_FAILED', 'RUN_STATUS_CANCELLED'];
const badgeFor = (status: string) => shortEnum(status, /^(RUN|STEP)_STATUS_/.exec(status)?.[0] ?? '').replace(/ /g, '_');

export function RunsPage({ runId }: { runId?: string }) {
  const [runs, setRuns] = useState<any[]>([]);
  const [chains, setChains] = useState<any[]>([]);
  const [status, setStatus] = useState('');
  const [chainId, setChainId] = useState('');
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    api.get('/api/chains?pageSize=200').then((r) => setChains(r.chains ?? []), () => {});
  }, []);
  useEffect(() => {
    api.get(`/api/runs${query({ status, chainId, pageSize: 100 })}`).then((r) => setRuns(r.runs ?? []), (e) => setError(errorOf(e)));
  }, [status, chainId, runId, tick]);
  return html`<section aria-labelledby="runs-title">
    <div class="toolbar">
      <h1 id="runs-title">Runs</h1>
      <label>Status
        <select value=${status} onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}>
          <option value="">any</option>
          ${STATUSES.map((s) => html`<option value=${s}>${shortEnum(s, 'RUN_STATUS_')}</option>`)}
        </select>
      </label>
      <label>Chain
        <select value=${chainId} onChange=${(e: Event) => setChainId((e.target as HTMLSelectElement).value)}>
          <option value="">any</option>
          ${chains.map((c) => html`<option value=${c.id}>${c.id}</option>`)}
        </select>
      </label>
      <button type="button" onClick=${() => setTick((n) => n + 1)}>Refresh</button>
    </div>
    <${ErrorNotice} error=${error} />
    <div class="split">
      <table class="list" aria-label="Runs">
        <thead><tr><th scope="col">Run</th><th scope="col">Chain</th><th scope="col">Status</th></tr></thead>
        <tbody>
          ${runs.map((r) => html`<tr class=${r.id === runId ? 'selected' : ''}>
            <td><a href=${href('runs', r.id)}>${r.id}</a><div class="muted">${r.createTime ? new Date(r.createTime).toLocaleString() : ''}</div></td>
            <td>${r.chainId} v${r.chainVersion}</td>
            <td><span class=${`badge ${badgeFor(r.status)}`}>${shortEnum(r.status, 'RUN_STATUS_')}</span></td>
          </tr>`)}
          ${runs.length === 0 ? html`<tr><td colspan="3" class="muted">No runs match.</td></tr>` : null}
        </tbody>
      </table>
      <div class="detail">${runId ? html`<${RunTimeline} key=${runId} runId=${runId} onChange=${() => setTick((n) => n + 1)} />` : html`<p class="muted">Choose a run.</p>`}</div>
    </div>
  </section>`;
}

/**
 * A run's live timeline: the run's step states (GetRun) refreshed as its events
 * arrive (WatchRun from the start; EventSource resumes with Last-Event-ID).
 */
function RunTimeline({ runId, onChange }: { runId: string; onChange: () => void }) {
  const [run, setRun] = useState<any>();
  const [events, setEvents] = useState<any[]>([]);
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [watching, setWatching] = useState(0);
  const refresh = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = () =>
    api.get(`/api/runs/${encodeURIComponent(runId)}`).then((r) => setRun(r.run), (e) => setError(errorOf(e)));

  useEffect(() => {
    void load();
    setEvents([]);
    const close = watchStream(`/api/runs/${encodeURIComponent(runId)}/events?afterSequence=0`, {
      onEvent: (e) => {
        setEvents((all) => (all.some((x) => x.sequence === e.sequence) ? all : [...all, e]));
        // Coalesce bursts of events into one GetRun.
        clearTimeout(refresh.current);
        refresh.current = setTimeout(load, 150);
      },
      onEnd: () => {
        void load();
        onChange();
      },
      onError: setError,
    });
    return () => {
      clearTimeout(refresh.current);
      close();
    };
  }, [runId, watching]);

  async function act(action: 'cancel' | 'resume') {
    setError(undefined);
    try {
      const r = await api.post(`/api/runs/${encodeURIComponent(runId)}/${action}`, action === 'cancel' ? { reason: 'cancelled from the console' } : {});
      setRun(r.run);
      if (action === 'resume') setWatching((n) => n + 1);
      onChange();
    } catch (e) {
      setError(errorOf(e));
    }
  }

  if (!run) return html`<${ErrorNotice} error=${error} />`;
  const start = Date.parse(run.startTime ?? run.createTime ?? '') || Date.now();
  const end = Date.parse(run.endTime ?? '') || Date.now();
  const span = Math.max(1, end - start);
  const retries = events.filter((e) => e.stepFailed);
  // Each start (the first, and each resume) names the trace its stretch of the run is in.
  const traceIds = [...new Set(events.map((e) => e.runStarted?.traceId).filter(Boolean))] as string[];
  return html`<div>
    <div class="toolbar">
      <h2>Run <code>${run.id}</code></h2>
      <span class=${`badge ${badgeFor(run.status)}`} data-testid="run-status">${shortEnum(run.status, 'RUN_STATUS_')}</span>
      <button type="button" disabled=${FINAL.includes(run.status)} onClick=${() => act('cancel')}>Cancel run</button>
      <button type="button" disabled=${!['RUN_STATUS_PAUSED', 'RUN_STATUS_FAILED'].includes(run.status)} onClick=${() => act('resume')}>Resume run</button>
    </div>
    <p class="muted">chain <a href=${href('chains', run.chainId)}>${run.chainId}</a> v${run.chainVersion}${run.endTime ? ` · ${formatDuration(`${(end - start) / 1000}s`)}` : ''}
      ${traceIds.map((id, i) => html`<${TraceLink} traceId=${id} what=${traceIds.length > 1 ? `this run (start ${i + 1})` : 'this run'} />`)}</p>
    <${ErrorNotice} error=${error} />
    <table class="timeline" aria-label="Steps">
      <thead><tr><th scope="col">Step</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Duration</th><th scope="col" class="bar-col">Timeline</th></tr></thead>
      <tbody>
        ${(run.steps ?? []).map((s: any) => {
          const s0 = Date.parse(s.startTime ?? '');
          const s1 = Date.parse(s.endTime ?? '') || (s.status === 'STEP_STATUS_RUNNING' ? Date.now() : s0);
          const left = Number.isFinite(s0) ? ((s0 - start) / span) * 100 : 0;
          const width = Number.isFinite(s0) ? Math.max(0.5, ((s1 - s0) / span) * 100) : 0;
          return html`<tr data-step=${s.stepId} data-status=${s.status}>
            <td><code>${s.path}</code></td>
            <td><span class=${`badge ${badgeFor(s.status)}`}>${shortEnum(s.status, 'STEP_STATUS_')}</span>${s.error ? html`<div class="error">${s.error.message}</div>` : null}</td>
            <td>${s.attempts || ''}${s.attempts > 1 ? html` <span class="muted">(${s.attempts - 1} retr${s.attempts > 2 ? 'ies' : 'y'})</span>` : null}</td>
            <td>${Number.isFinite(s0) && s.endTime ? formatDuration(`${(s1 - s0) / 1000}s`) : ''}</td>
            <td class="bar-col"><div class="bar-track"><div class=${`bar ${badgeFor(s.status)}`} style=${`margin-left:${left}%;width:${width}%`}></div></div></td>
          </tr>`;
        })}
      </tbody>
    </table>
    ${retries.length ? html`<h3>Failed attempts</h3><ul>${retries.map((e) => html`<li><code>${e.stepFailed.path}</code> attempt ${e.stepFailed.attempt}: ${e.stepFailed.error?.message}${e.stepFailed.willRetry ? ' — retrying' : ''}</li>`)}</ul>` : null}
    ${run.error ? html`<div class="error" role="alert">${run.error.message}</div>` : null}
    ${run.output !== undefined ? html`<h3>Output</h3><${JsonView} value=${run.output} label="Run output" />` : null}
    <details><summary>Input and ${events.length} events</summary>
      <${JsonView} value=${run.input} label="Run input" />
      <ol class="events">${events.map((e) => html`<li><span class="muted">#${e.sequence}</span> ${Object.keys(e).find((k) => !['sequence', 'runId', 'time'].includes(k))}</li>`)}</ol>
    </details>
  </div>`;
}
