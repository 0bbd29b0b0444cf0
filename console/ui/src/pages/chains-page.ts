import { useEffect, useState } from 'preact/hooks';
import { api, type ApiErrorBody } from '../api/gateway-api.js';
import { ErrorNotice, errorOf } from '../components/error-notice.js';
import { formatDuration } from '../components/json-view.js';
import { html } from '../html.js';
import { href, navigate } from '../router.js';

export function ChainsPage({ chainId }: { chainId?: string }) {
  const [chains, setChains] = useState<any[]>([]);
  const [error, setError] = useState<ApiErrorBody | undefined>();
  useEffect(() => {
    api.get('/api/chains?pageSize=200').then((r) => setChains(r.chains ?? []), (e) => setError(errorOf(e)));
  }, []);
  return html`<section aria-labelledby="chains-title">
    <h1 id="chains-title">Chains</h1>
    <${ErrorNotice} error=${error} />
    <div class="split">
      <table class="list" aria-label="Chains">
        <thead><tr><th scope="col">Chain</th><th scope="col">Version</th></tr></thead>
        <tbody>
          ${chains.map((c) => html`<tr class=${c.id === chainId ? 'selected' : ''}>
            <td><a href=${href('chains', c.id)}>${c.displayName || c.id}</a><div class="muted">${c.description ?? ''}</div></td>
            <td>v${c.version}</td>
          </tr>`)}
          ${chains.length === 0 ? html`<tr><td colspan="2" class="muted">No chains yet (create them with <code>elixirchain chains create</code>).</td></tr>` : null}
        </tbody>
      </table>
      <div class="detail">${chainId ? html`<${ChainDetail} key=${chainId} chainId=${chainId} />` : html`<p class="muted">Choose a chain.</p>`}</div>
    </div>
  </section>`;
}

function ChainDetail({ chainId }: { chainId: string }) {
  const [chain, setChain] = useState<any>();
  const [input, setInput] = useState('{}');
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [inputProblem, setInputProblem] = useState<string | undefined>();
  useEffect(() => {
    api.get(`/api/chains/${encodeURIComponent(chainId)}`).then((r) => setChain(r.chain), (e) => setError(errorOf(e)));
  }, [chainId]);

  async function run(e: Event) {
    e.preventDefault();
    setError(undefined);
    let value: unknown;
    try {
      value = JSON.parse(input || 'null');
      setInputProblem(undefined);
    } catch {
      setInputProblem('is not valid JSON');
      return;
    }
    try {
      const r = await api.post(`/api/chains/${encodeURIComponent(chainId)}/start`, { input: value, requestId: crypto.randomUUID() });
      navigate('runs', r.run.id);
    } catch (thrown) {
      setError(errorOf(thrown));
    }
  }

  if (!chain) return html`<${ErrorNotice} error=${error} />`;
  return html`<div>
    <div class="toolbar">
      <h2>${chain.displayName || chain.id} <span class="muted">v${chain.version}</span></h2>
      <a class="button" href=${href('runs')}>Runs</a>
    </div>
    ${chain.description ? html`<p>${chain.description}</p>` : null}
    <div class="chain-graph" aria-label="Steps of the chain">${chain.root ? html`<${StepNode} step=${chain.root} />` : null}</div>
    <form onSubmit=${run} aria-label="Run the chain">
      <div class="field">
        <label for="chain-input">Run input (JSON)</label>
        <textarea id="chain-input" class="mono" rows="4" value=${input} onInput=${(e: Event) => setInput((e.target as HTMLTextAreaElement).value)} aria-invalid=${inputProblem ? 'true' : 'false'}></textarea>
        ${inputProblem ? html`<div class="field-error" role="alert">Input ${inputProblem}</div>` : null}
      </div>
      <div class="actions"><button type="submit" class="primary">Run</button></div>
    </form>
    <${ErrorNotice} error=${error} />
  </div>`;
}

const KINDS = ['tool', 'agent', 'transform', 'sequential', 'parallel', 'conditional', 'pipeline', 'mapReduce'] as const;

/** One step as a box; composite steps nest their children (sequence top to bottom, branches side by side). */
export function StepNode({ step, label }: { step: any; label?: string }) {
  const kind = KINDS.find((k) => step[k] !== undefined) ?? 'step';
  const body = step[kind] ?? {};
  const meta = [step.timeout ? `timeout ${formatDuration(step.timeout)}` : '', step.retry?.maxAttempts ? `retry ×${step.retry.maxAttempts}` : ''].filter(Boolean).join(' · ');
  let summary = '';
  let children: unknown = null;
  if (kind === 'tool') summary = `${body.tool}${body.version ? `@${body.version}` : ''}${body.input ? ` ← ${body.input}` : ''}`;
  else if (kind === 'agent') summary = `${body.agentId}${body.message ? ` ← ${body.message}` : ''}`;
  else if (kind === 'transform') summary = body.expression;
  else if (kind === 'sequential') children = html`<div class="seq">${(body.steps ?? []).map((s: any) => html`<${StepNode} step=${s} />`)}</div>`;
  else if (kind === 'parallel') {
    summary = `${String(body.aggregation ?? 'AGGREGATION_ALL').replace('AGGREGATION_', '').toLowerCase()}${body.quorum ? ` (${body.quorum})` : ''}`;
    children = html`<div class="par">${(body.branches ?? []).map((s: any) => html`<${StepNode} step=${s} />`)}</div>`;
  } else if (kind === 'conditional') {
    children = html`<div class="par">
      ${(body.branches ?? []).map((b: any) => html`<${StepNode} step=${b.step} label=${`when ${b.when}`} />`)}
      ${body.otherwise ? html`<${StepNode} step=${body.otherwise} label="otherwise" />` : null}
    </div>`;
  } else if (kind === 'pipeline') {
    children = html`<div class="seq">${(body.stages ?? []).map((st: any) => html`<${StepNode} step=${st.step} label=${st.map ? `map ${st.map}` : undefined} />`)}</div>`;
  } else if (kind === 'mapReduce') {
    summary = `over ${body.items}${body.concurrency ? `, ${body.concurrency} at once` : ''}`;
    children = html`<div class="seq">
      ${body.map ? html`<${StepNode} step=${body.map} label="map" />` : null}
      ${body.reduceStep ? html`<${StepNode} step=${body.reduceStep} label="reduce" />` : body.reduceExpression ? html`<div class="step leaf"><span class="kind">reduce</span> <code>${body.reduceExpression}</code></div>` : null}
    </div>`;
  }
  return html`<div class=${`step ${children ? 'composite' : 'leaf'}`} data-step=${step.id}>
    ${label ? html`<div class="edge-label">${label}</div>` : null}
    <div><span class="kind">${kind}</span> <strong>${step.id}</strong>${summary ? html` <code>${summary}</code>` : null}</div>
    ${step.description ? html`<div class="muted">${step.description}</div>` : null}
    ${meta ? html`<div class="muted">${meta}</div>` : null}
    ${children}
  </div>`;
}
