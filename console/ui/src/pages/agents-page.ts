import { useEffect, useState } from 'preact/hooks';
import { api, type ApiErrorBody } from '../api/gateway-api.js';
import { ErrorNotice, errorOf } from '../components/error-notice.js';
import { JsonView } from '../components/json-view.js';
import { html } from '../html.js';
import { href, navigate } from '../router.js';

const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

interface AgentForm {
  id: string;
  displayName: string;
  instructions: string;
  provider: string;
  model: string;
  tools: string;
  approvalTools: string;
  script: string;
}

const blankForm: AgentForm = { id: '', displayName: '', instructions: '', provider: '', model: '', tools: '', approvalTools: '', script: '' };

function formFromAgent(a: any): AgentForm {
  const tools: any[] = a.tools ?? [];
  return {
    id: a.id,
    displayName: a.displayName ?? '',
    instructions: a.instructions ?? '',
    provider: a.model?.provider ?? '',
    model: a.model?.model ?? '',
    tools: tools.map((t) => t.name).join(', '),
    approvalTools: tools.filter((t) => t.requireApproval).map((t) => t.name).join(', '),
    script: a.model?.script?.length ? JSON.stringify(a.model.script, null, 2) : '',
  };
}

/** Client-side checks for what the form itself can know; the service validates the rest and names the field. */
function validate(form: AgentForm, creating: boolean): Record<string, string> {
  const problems: Record<string, string> = {};
  if (creating && form.id && !ID_PATTERN.test(form.id)) problems['agent.id'] = 'lowercase letters, digits, "_" and "-" (up to 63), starting with a letter or digit';
  if (form.script.trim()) {
    try {
      if (!Array.isArray(JSON.parse(form.script))) problems['agent.model.script'] = 'must be a JSON array of responses';
    } catch {
      problems['agent.model.script'] = 'is not valid JSON';
    }
  }
  return problems;
}

function agentFromForm(form: AgentForm): Record<string, unknown> {
  const names = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
  const approval = new Set(names(form.approvalTools));
  return {
    id: form.id.trim(),
    displayName: form.displayName,
    instructions: form.instructions,
    model: { provider: form.provider, model: form.model, ...(form.script.trim() ? { script: JSON.parse(form.script) } : {}) },
    tools: names(form.tools).map((name) => ({ name, requireApproval: approval.has(name) })),
  };
}

export function AgentsPage({ agentId, mode }: { agentId?: string; mode?: string }) {
  const [agents, setAgents] = useState<any[]>([]);
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [reload, setReload] = useState(0);
  useEffect(() => {
    api.get('/api/agents?pageSize=200').then((r) => setAgents(r.agents ?? []), (e) => setError(errorOf(e)));
  }, [reload]);

  return html`<section aria-labelledby="agents-title">
    <div class="toolbar">
      <h1 id="agents-title">Agents</h1>
      <a class="button primary" href=${href('agents', 'new')}>New agent</a>
    </div>
    <${ErrorNotice} error=${error} />
    <div class="split">
      <table class="list" aria-label="Agents">
        <thead><tr><th scope="col">Agent</th><th scope="col">Model</th><th scope="col">Tools</th><th scope="col">Version</th></tr></thead>
        <tbody>
          ${agents.map((a) => html`<tr class=${a.id === agentId ? 'selected' : ''}>
            <td><a href=${href('agents', a.id)}>${a.displayName || a.id}</a><div class="muted">${a.id}</div></td>
            <td>${a.model?.provider || 'default'}${a.model?.model ? ` · ${a.model.model}` : ''}</td>
            <td>${(a.tools ?? []).map((t: any) => t.name).join(', ')}</td>
            <td>v${a.version}</td>
          </tr>`)}
          ${agents.length === 0 ? html`<tr><td colspan="4" class="muted">No agents yet.</td></tr>` : null}
        </tbody>
      </table>
      <div class="detail">
        ${agentId === 'new'
          ? html`<${AgentEditor} key="new" onSaved=${(a: any) => { setReload((n) => n + 1); navigate('agents', a.id); }} />`
          : agentId
            ? mode === 'edit'
              ? html`<${AgentEditor} key=${`edit-${agentId}`} agentId=${agentId} onSaved=${(a: any) => { setReload((n) => n + 1); navigate('agents', a.id); }} />`
              : html`<${AgentDetail} key=${agentId} agentId=${agentId} />`
            : html`<p class="muted">Choose an agent, or create one.</p>`}
      </div>
    </div>
  </section>`;
}

function AgentDetail({ agentId }: { agentId: string }) {
  const [agent, setAgent] = useState<any>();
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [current, setCurrent] = useState(0);
  useEffect(() => {
    api.get(`/api/agents/${encodeURIComponent(agentId)}${version ? `?version=${version}` : ''}`).then(
      (r) => {
        setAgent(r.agent);
        if (!version) setCurrent(r.agent.version);
      },
      (e) => setError(errorOf(e)),
    );
  }, [agentId, version]);
  if (error) return html`<${ErrorNotice} error=${error} />`;
  if (!agent) return html`<p class="muted">Loading…</p>`;
  return html`<div>
    <div class="toolbar">
      <h2>${agent.displayName || agent.id}</h2>
      <a class="button primary" href=${href('chat', agent.id)}>Chat</a>
      <a class="button" href=${href('agents', agent.id, 'edit')}>Edit</a>
      <a class="button" href=${href('threads', agent.id)}>Threads</a>
    </div>
    <label>Version
      <select id="agent-version" value=${version || current} onChange=${(e: Event) => setVersion(Number((e.target as HTMLSelectElement).value))}>
        ${Array.from({ length: current }, (_, i) => current - i).map((v) => html`<option value=${v}>v${v}${v === current ? ' (current)' : ''}</option>`)}
      </select>
    </label>
    <dl class="summary">
      <dt>Instructions</dt><dd>${agent.instructions || html`<span class="muted">none</span>`}</dd>
      <dt>Model</dt><dd>${agent.model?.provider || 'default provider'}${agent.model?.model ? ` · ${agent.model.model}` : ''}${agent.model?.script?.length ? ` · ${agent.model.script.length} scripted response(s)` : ''}</dd>
      <dt>Tools</dt><dd>${(agent.tools ?? []).length ? (agent.tools ?? []).map((t: any) => html`<a href=${href('tools', t.name)}>${t.name}</a>${t.versionRange ? ` ${t.versionRange}` : ''}${t.requireApproval ? html` <span class="badge awaiting_approval">needs approval</span>` : null} `) : html`<span class="muted">none</span>`}</dd>
      <dt>Updated</dt><dd>${agent.updateTime ? new Date(agent.updateTime).toLocaleString() : ''}</dd>
    </dl>
    <details><summary>Full definition (JSON)</summary><${JsonView} value=${agent} label=${`Definition of ${agent.id} version ${agent.version}`} /></details>
  </div>`;
}

function AgentEditor({ agentId, onSaved }: { agentId?: string; onSaved: (agent: any) => void }) {
  const creating = !agentId;
  const [form, setForm] = useState<AgentForm>(blankForm);
  const [version, setVersion] = useState<number | undefined>();
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [saving, setSaving] = useState(false);
  useEffect(() => {
    if (!agentId) return;
    api.get(`/api/agents/${encodeURIComponent(agentId)}`).then(
      (r) => {
        setForm(formFromAgent(r.agent));
        setVersion(r.agent.version);
      },
      (e) => setError(errorOf(e)),
    );
  }, [agentId]);

  const set = (key: keyof AgentForm) => (e: Event) => setForm({ ...form, [key]: (e.target as HTMLInputElement).value });

  async function save(e: Event) {
    e.preventDefault();
    setError(undefined);
    const local = validate(form, creating);
    setProblems(local);
    if (Object.keys(local).length) return;
    setSaving(true);
    try {
      const agent = agentFromForm(form);
      const r = creating
        ? await api.post('/api/agents', { agent })
        : await api.patch(`/api/agents/${encodeURIComponent(agentId!)}`, { agent, expectedVersion: version });
      onSaved(r.agent);
    } catch (thrown) {
      const body = errorOf(thrown);
      setError(body);
      setProblems(Object.fromEntries(body.fieldViolations.map((v) => [v.field, v.description])));
    } finally {
      setSaving(false);
    }
  }

  const field = (key: keyof AgentForm, path: string, label: string, input: unknown, hint?: string) => html`<div class="field">
    <label for=${`agent-${key}`}>${label}</label>
    ${input}
    ${hint ? html`<div class="hint" id=${`agent-${key}-hint`}>${hint}</div>` : null}
    ${problems[path] ? html`<div class="field-error" role="alert" id=${`agent-${key}-error`}>${problems[path]}</div>` : null}
  </div>`;
  const text = (key: keyof AgentForm, path: string, extra: Record<string, unknown> = {}) =>
    html`<input id=${`agent-${key}`} value=${form[key]} onInput=${set(key)} aria-invalid=${problems[path] ? 'true' : 'false'} aria-describedby=${`agent-${key}-hint agent-${key}-error`} ...${extra} />`;

  // Until the current definition has loaded there is nothing to edit: showing the form
  // earlier let the arriving definition overwrite what the user had already typed.
  if (!creating && version === undefined) {
    return error ? html`<${ErrorNotice} error=${error} />` : html`<p class="muted">Loading…</p>`;
  }
  return html`<form onSubmit=${save} aria-label=${creating ? 'New agent' : `Edit ${agentId}`} novalidate>
    <h2>${creating ? 'New agent' : `Edit ${agentId} (v${version ?? '…'})`}</h2>
    <${ErrorNotice} error=${error} />
    ${field('id', 'agent.id', 'Id', text('id', 'agent.id', { disabled: !creating, placeholder: 'generated when empty' }), 'lowercase letters, digits, _ and -')}
    ${field('displayName', 'agent.display_name', 'Display name', text('displayName', 'agent.display_name'))}
    ${field('instructions', 'agent.instructions', 'Instructions', html`<textarea id="agent-instructions" rows="4" value=${form.instructions} onInput=${set('instructions')}></textarea>`)}
    ${field('provider', 'agent.model.provider', 'Model provider', html`<select id="agent-provider" value=${form.provider} onChange=${set('provider')}>
      <option value="">default (OpenAI when a key is set, else scripted)</option>
      <option value="openai">openai</option>
      <option value="scripted">scripted (offline)</option>
    </select>`)}
    ${field('model', 'agent.model.model', 'Model', text('model', 'agent.model.model', { placeholder: 'e.g. gpt-4o-mini' }))}
    ${field('tools', 'agent.tools', 'Tools', text('tools', 'agent.tools', { placeholder: 'calculator, weather' }), 'sandbox tool names, comma separated')}
    ${field('approvalTools', 'agent.tools', 'Tools that need approval', text('approvalTools', 'agent.tools'), 'a human approves each call of these')}
    ${field('script', 'agent.model.script', 'Scripted model responses (JSON)', html`<textarea id="agent-script" rows="5" class="mono" value=${form.script} onInput=${set('script')} aria-describedby="agent-script-hint agent-script-error"></textarea>`, 'for the scripted provider: [{"events":[{"text":"hi"}]}]')}
    <div class="actions">
      <button type="submit" class="primary" disabled=${saving}>${creating ? 'Create agent' : 'Save new version'}</button>
      <a class="button" href=${agentId ? href('agents', agentId) : href('agents')}>Cancel</a>
    </div>
  </form>`;
}
