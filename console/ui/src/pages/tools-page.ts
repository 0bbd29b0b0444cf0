import { useEffect, useRef, useState } from 'preact/hooks';
import { api, postStream, query, type ApiErrorBody } from '../api/gateway-api.js';
import { ErrorNotice, errorOf } from '../components/error-notice.js';
import { formatDuration, JsonView, shortEnum } from '../components/json-view.js';
import { SchemaForm, SchemaTable } from '../components/schema-form.js';
import { html } from '../html.js';
import { href } from '../router.js';

export function ToolsPage({ name, version }: { name?: string; version?: string }) {
  const [tools, setTools] = useState<any[]>([]);
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [changes, setChanges] = useState(0);
  useEffect(() => {
    api.get('/api/tools?pageSize=200').then((r) => setTools(r.tools ?? []), (e) => setError(errorOf(e)));
  }, [name, changes]);
  return html`<section aria-labelledby="tools-title">
    <h1 id="tools-title">Tools</h1>
    <${ErrorNotice} error=${error} />
    <div class="split">
      <table class="list" aria-label="Tools">
        <thead><tr><th scope="col">Tool</th><th scope="col">Newest</th><th scope="col">State</th></tr></thead>
        <tbody>
          ${tools.map((t) => html`<tr class=${t.manifest.name === name ? 'selected' : ''}>
            <td><a href=${href('tools', t.manifest.name)}>${t.manifest.name}</a><div class="muted">${t.manifest.description}</div></td>
            <td>${t.manifest.version}</td>
            <td><span class=${`badge ${t.state === 'TOOL_STATE_ACTIVE' ? 'completed' : 'awaiting_approval'}`}>${shortEnum(t.state, 'TOOL_STATE_')}</span></td>
          </tr>`)}
          ${tools.length === 0 ? html`<tr><td colspan="3" class="muted">No tools registered.</td></tr>` : null}
        </tbody>
      </table>
      <div class="detail">${name ? html`<${ToolDetail} key=${`${name}@${version ?? ''}`} name=${name} version=${version} onChanged=${() => setChanges((n) => n + 1)} />` : html`<p class="muted">Choose a tool.</p>`}</div>
    </div>
  </section>`;
}

function ToolDetail({ name, version, onChanged }: { name: string; version?: string; onChanged: () => void }) {
  const [tool, setTool] = useState<any>();
  const [versions, setVersions] = useState<any[]>([]);
  const [grant, setGrant] = useState<any>();
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [reload, setReload] = useState(0);
  useEffect(() => {
    api.get(`/api/tools/${encodeURIComponent(name)}${query({ version })}`).then((r) => setTool(r.tool), (e) => setError(errorOf(e)));
    api.get(`/api/tools${query({ name, allVersions: true, pageSize: 100 })}`).then((r) => setVersions(r.tools ?? []), () => {});
    api.get('/api/grants?pageSize=500').then((r) => setGrant((r.grants ?? []).find((g: any) => g.toolName === name)), () => {});
  }, [name, version, reload]);
  if (error) return html`<${ErrorNotice} error=${error} />`;
  if (!tool) return html`<p class="muted">Loading…</p>`;
  const m = tool.manifest;
  const asked = { networkHosts: m.permissions?.networkHosts ?? [], secrets: m.permissions?.secrets ?? [] };
  const granted = { networkHosts: grant?.permissions?.networkHosts ?? [], secrets: grant?.permissions?.secrets ?? [] };
  const missing = { networkHosts: tool.missingPermissions?.networkHosts ?? [], secrets: tool.missingPermissions?.secrets ?? [] };
  const anyAsked = asked.networkHosts.length + asked.secrets.length > 0;

  async function changeGrant(kind: 'grant' | 'revoke', permissions: object) {
    setError(undefined);
    try {
      const r = await api.post(`/api/tools/${encodeURIComponent(name)}/${kind}`, { permissions });
      // The answer carries the grant as it is now; the tool's state is read again.
      setGrant(r.grant);
      setReload((n) => n + 1);
      onChanged();
    } catch (e) {
      setError(errorOf(e));
    }
  }

  return html`<div>
    <div class="toolbar">
      <h2>${m.name} <span class="muted">${m.version}</span></h2>
      <label>Version
        <select value=${m.version} onChange=${(e: Event) => (location.hash = href('tools', name, (e.target as HTMLSelectElement).value))}>
          ${versions.map((v) => html`<option value=${v.manifest.version}>${v.manifest.version} · ${shortEnum(v.state, 'TOOL_STATE_')}</option>`)}
        </select>
      </label>
    </div>
    <p>${m.description}</p>
    <p>${Object.entries(m.annotations ?? {}).filter(([, v]) => v).map(([k]) => html`<span class=${`badge ${k === 'destructive' ? 'failed' : ''}`}>${k.replace(/([A-Z])/g, ' $1').toLowerCase()}</span> `)}</p>
    <${SchemaTable} schema=${m.inputSchema} label="Input" />
    <${SchemaTable} schema=${m.outputSchema} label="Output" />
    <h3>Permissions</h3>
    ${anyAsked
      ? html`<table class="schema" aria-label="Permissions asked and granted">
          <thead><tr><th scope="col">Kind</th><th scope="col">Asked</th><th scope="col">Granted</th><th scope="col">Missing</th></tr></thead>
          <tbody>
            <tr><td>network hosts</td><td>${asked.networkHosts.join(', ') || '—'}</td><td>${granted.networkHosts.join(', ') || '—'}</td><td>${missing.networkHosts.join(', ') || '—'}</td></tr>
            <tr><td>secrets</td><td>${asked.secrets.join(', ') || '—'}</td><td>${granted.secrets.join(', ') || '—'}</td><td>${missing.secrets.join(', ') || '—'}</td></tr>
          </tbody>
        </table>
        <div class="actions">
          <button type="button" class="primary" disabled=${missing.networkHosts.length + missing.secrets.length === 0} onClick=${() => changeGrant('grant', missing)}>Grant what is missing</button>
          <button type="button" disabled=${granted.networkHosts.length + granted.secrets.length === 0} onClick=${() => changeGrant('revoke', {})}>Revoke the grant</button>
        </div>`
      : html`<p class="muted">Asks for no network hosts and no secrets.</p>`}
    <details><summary>Limits and retry</summary><${JsonView} value=${{ limits: m.limits, retry: m.retry, bundleSha256: m.bundleSha256, bundleSize: tool.bundleSize }} label="Limits" /></details>
    <h3>Invoke</h3>
    <${ToolInvoker} name=${name} version=${m.version} schema=${m.inputSchema} />
  </div>`;
}

function ToolInvoker({ name, version, schema }: { name: string; version: string; schema: any }) {
  const [events, setEvents] = useState<any[]>([]);
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => abort.current?.abort(), []);

  async function invoke(input: Record<string, unknown>) {
    setEvents([]);
    setError(undefined);
    setBusy(true);
    abort.current = new AbortController();
    await postStream(`/api/tools/${encodeURIComponent(name)}/invoke`, { version, input }, { onEvent: (e) => setEvents((all) => [...all, e]), onError: setError }, abort.current.signal).catch((e) => {
      if ((e as Error).name !== 'AbortError') setError(errorOf(e));
    });
    setBusy(false);
  }
  const progress = [...events].reverse().find((e) => e.progress)?.progress;
  const result = events.find((e) => e.result)?.result;
  const failures = events.filter((e) => e.error).map((e) => e.error);
  return html`<div class="invoker">
    <${SchemaForm} schema=${schema} idPrefix=${`invoke-${name}`} onSubmit=${invoke} submitLabel="Invoke" busy=${busy} />
    ${busy ? html`<button type="button" onClick=${() => abort.current?.abort()}>Stop</button>` : null}
    ${progress ? html`<div><progress max="1" value=${progress.fraction >= 0 ? progress.fraction : undefined} aria-label="Invocation progress"></progress> ${progress.message}</div>` : null}
    <ol class="events" aria-label="Invocation events">
      ${events.map((e) => html`<li><span class="muted">#${e.sequence}</span> ${describeInvokeEvent(e)}</li>`)}
    </ol>
    ${failures.map((f) => html`<div class="error" role="alert">attempt ${f.attempt}: ${f.status?.message}${f.willRetry ? ' (retrying)' : ''}</div>`)}
    ${result ? html`<div data-testid="invoke-result"><strong>Result</strong> <span class="muted">${result.toolVersion} · ${result.attempts} attempt(s) · ${formatDuration(result.duration)}</span><${JsonView} value=${result.output} label="Tool output" /></div>` : null}
    <${ErrorNotice} error=${error} />
  </div>`;
}

function describeInvokeEvent(e: any): string {
  if (e.started) return `started (${e.started.toolVersion}, attempt ${e.started.attempt})`;
  if (e.progress) return `progress ${Math.round((e.progress.fraction ?? 0) * 100)}% ${e.progress.message ?? ''}`;
  if (e.log) return `log ${e.log.level}: ${e.log.message}`;
  if (e.partial) return `partial ${JSON.stringify(e.partial.data)}`;
  if (e.result) return 'result';
  if (e.error) return `error: ${e.error.status?.message ?? ''}`;
  return JSON.stringify(e);
}
