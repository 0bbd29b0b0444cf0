import { useEffect, useState } from 'preact/hooks';
import { api, type ApiErrorBody } from '../api/gateway-api.js';
import { ErrorNotice, errorOf } from '../components/error-notice.js';
import { formatDuration } from '../components/json-view.js';
import { html } from '../html.js';
import { href, navigate } from '../router.js';

export function ChainsPage({ chainId, mode }: { chainId?: string; mode?: string }) {
  const [chains, setChains] = useState<any[]>([]);
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [reload, setReload] = useState(0);
  useEffect(() => {
    api.get('/api/chains?pageSize=200').then((r) => setChains(r.chains ?? []), (e) => setError(errorOf(e)));
  }, [reload]);
  const saved = (chain: any) => {
    setReload((n) => n + 1);
    navigate('chains', chain.id);
  };
  return html`<section aria-labelledby="chains-title">
    <div class="toolbar">
      <h1 id="chains-title">Chains</h1>
      <a class="button primary" href=${href('chains', 'new')}>New chain</a>
    </div>
    <${ErrorNotice} error=${error} />
    <div class="split">
      <table class="list" aria-label="Chains">
        <thead><tr><th scope="col">Chain</th><th scope="col">Version</th></tr></thead>
        <tbody>
          ${chains.map((c) => html`<tr class=${c.id === chainId ? 'selected' : ''}>
            <td><a href=${href('chains', c.id)}>${c.displayName || c.id}</a><div class="muted">${c.description ?? ''}</div></td>
            <td>v${c.version}</td>
          </tr>`)}
          ${chains.length === 0 ? html`<tr><td colspan="2" class="muted">No chains yet.</td></tr>` : null}
        </tbody>
      </table>
      <div class="detail">
        ${chainId === 'new'
          ? html`<${ChainEditor} key="new" onSaved=${saved} />`
          : chainId
            ? mode === 'edit'
              ? html`<${ChainEditor} key=${`edit-${chainId}`} chainId=${chainId} onSaved=${saved} />`
              : html`<${ChainDetail} key=${chainId} chainId=${chainId} />`
            : html`<p class="muted">Choose a chain, or create one.</p>`}
      </div>
    </div>
  </section>`;
}

const CHAIN_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const STARTER_DEFINITION = JSON.stringify({ id: 'main', sequential: { steps: [{ id: 'echo', transform: { expression: 'run' } }] } }, null, 2);

interface ChainForm {
  id: string;
  displayName: string;
  description: string;
  /** The root step as proto3 JSON. */
  definition: string;
}

/** Which form field a service field violation belongs to: the root step's own paths all go to the definition. */
function formFieldOf(field: string): keyof ChainForm {
  if (field === 'chain.id') return 'id';
  if (field === 'chain.display_name') return 'displayName';
  if (field === 'chain.description') return 'description';
  return 'definition';
}

/**
 * Creates a chain or saves a new version of one: id, names and the root step
 * as JSON. The form checks only what it can know (id shape, JSON syntax); the
 * chain executor validates the rest (step kinds, ids, CEL, retry, quorum) and
 * its field violations are shown next to the field they name, with the path
 * inside the definition.
 */
function ChainEditor({ chainId, onSaved }: { chainId?: string; onSaved: (chain: any) => void }) {
  const creating = !chainId;
  const [form, setForm] = useState<ChainForm>({ id: '', displayName: '', description: '', definition: STARTER_DEFINITION });
  const [version, setVersion] = useState<number | undefined>();
  const [problems, setProblems] = useState<Partial<Record<keyof ChainForm, string[]>>>({});
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [saving, setSaving] = useState(false);
  useEffect(() => {
    if (!chainId) return;
    api.get(`/api/chains/${encodeURIComponent(chainId)}`).then(
      (r) => {
        setForm({ id: r.chain.id, displayName: r.chain.displayName ?? '', description: r.chain.description ?? '', definition: JSON.stringify(r.chain.root ?? {}, null, 2) });
        setVersion(r.chain.version);
      },
      (e) => setError(errorOf(e)),
    );
  }, [chainId]);

  const set = (key: keyof ChainForm) => (e: Event) => setForm({ ...form, [key]: (e.target as HTMLInputElement).value });

  async function save(e: Event) {
    e.preventDefault();
    setError(undefined);
    const local: Partial<Record<keyof ChainForm, string[]>> = {};
    if (creating && form.id && !CHAIN_ID_PATTERN.test(form.id)) local.id = ['lowercase letters, digits, "_" and "-" (up to 63), starting with a letter or digit'];
    let root: unknown;
    try {
      root = JSON.parse(form.definition);
      if (!root || typeof root !== 'object' || Array.isArray(root)) local.definition = ['must be a JSON object: the root step'];
    } catch (thrown) {
      local.definition = [`is not valid JSON (${(thrown as Error).message})`];
    }
    setProblems(local);
    if (Object.keys(local).length) return;
    setSaving(true);
    try {
      const chain = { id: form.id.trim(), displayName: form.displayName, description: form.description, root };
      const r = creating
        ? await api.post('/api/chains', { chain, requestId: crypto.randomUUID() })
        : await api.patch(`/api/chains/${encodeURIComponent(chainId!)}`, { chain, updateMask: 'display_name,description,root', expectedVersion: version });
      onSaved(r.chain);
    } catch (thrown) {
      const body = errorOf(thrown);
      setError(body);
      const byField: Partial<Record<keyof ChainForm, string[]>> = {};
      for (const v of body.fieldViolations) {
        const key = formFieldOf(v.field);
        const where = key === 'definition' ? v.field.replace(/^chain\.(root\.?)?/, '') : '';
        (byField[key] ??= []).push(where ? `${where}: ${v.description}` : v.description);
      }
      setProblems(byField);
    } finally {
      setSaving(false);
    }
  }

  const field = (key: keyof ChainForm, label: string, input: unknown, hint?: string) => html`<div class="field">
    <label for=${`chain-${key}`}>${label}</label>
    ${input}
    ${hint ? html`<div class="hint" id=${`chain-${key}-hint`}>${hint}</div>` : null}
    ${problems[key]?.length ? html`<div class="field-error" role="alert" id=${`chain-${key}-error`}>${problems[key]!.map((p) => html`<div>${p}</div>`)}</div>` : null}
  </div>`;
  const attrs = (key: keyof ChainForm) => ({ id: `chain-${key}`, value: form[key], onInput: set(key), 'aria-invalid': problems[key]?.length ? 'true' : 'false', 'aria-describedby': `chain-${key}-hint chain-${key}-error` });

  if (!creating && version === undefined) {
    return error ? html`<${ErrorNotice} error=${error} />` : html`<p class="muted">Loading…</p>`;
  }
  return html`<form onSubmit=${save} aria-label=${creating ? 'New chain' : `Edit ${chainId}`} novalidate>
    <h2>${creating ? 'New chain' : `Edit ${chainId} (v${version})`}</h2>
    <${ErrorNotice} error=${error} />
    ${field('id', 'Id', html`<input ...${attrs('id')} disabled=${!creating} placeholder="generated when empty" />`, 'lowercase letters, digits, _ and -')}
    ${field('displayName', 'Display name', html`<input ...${attrs('displayName')} />`)}
    ${field('description', 'Description', html`<input ...${attrs('description')} />`)}
    ${field('definition', 'Definition: the root step (JSON)', html`<textarea ...${attrs('definition')} class="mono" rows="14" spellcheck="false"></textarea>`, 'a step: {"id", and one of tool, agent, transform, sequential, parallel, conditional, pipeline, mapReduce}; CEL sees run and steps')}
    <div class="actions">
      <button type="submit" class="primary" disabled=${saving}>${creating ? 'Create chain' : 'Save new version'}</button>
      <a class="button" href=${chainId ? href('chains', chainId) : href('chains')}>Cancel</a>
    </div>
  </form>`;
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
      <a class="button" href=${href('chains', chain.id, 'edit')}>Edit</a>
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
