import { useState } from 'preact/hooks';
import { html } from '../html.js';

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  description?: string;
  title?: string;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  items?: Schema;
}

const typeOf = (s: Schema): string => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') ?? 'string' : s.type ?? (s.enum ? 'enum' : 'string'));

/** A readable rendering of a JSON Schema: one row per property with type, constraints and description. */
export function SchemaTable({ schema, label }: { schema: Schema | undefined; label: string }) {
  if (!schema || !schema.properties) return html`<p class="muted">${label}: ${schema ? `any ${typeOf(schema)}` : 'not declared'}</p>`;
  const required = new Set(schema.required ?? []);
  return html`<table class="schema" aria-label=${label}>
    <caption>${label}</caption>
    <thead><tr><th scope="col">Field</th><th scope="col">Type</th><th scope="col">Description</th></tr></thead>
    <tbody>
      ${Object.entries(schema.properties).map(([name, p]) => html`<tr>
        <td><code>${name}</code>${required.has(name) ? html` <span class="badge">required</span>` : null}</td>
        <td>${typeOf(p)}${p.enum ? ` (${p.enum.map((v) => JSON.stringify(v)).join(' | ')})` : ''}${p.minimum !== undefined ? ` ≥ ${p.minimum}` : ''}${p.maximum !== undefined ? ` ≤ ${p.maximum}` : ''}</td>
        <td>${p.description ?? p.title ?? ''}</td>
      </tr>`)}
    </tbody>
  </table>`;
}

/**
 * A form generated from a tool's input schema: strings, numbers, booleans and
 * enums get their own controls; objects and arrays a JSON box. The sandbox
 * validates the input against the schema again; this only helps fill it in.
 */
export function SchemaForm({ schema, idPrefix, onSubmit, submitLabel, busy }: { schema: Schema | undefined; idPrefix: string; onSubmit: (value: Record<string, unknown>) => void; submitLabel: string; busy?: boolean }) {
  const properties = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  const [values, setValues] = useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(Object.entries(properties).map(([k, p]) => [k, p.default === undefined ? (typeOf(p) === 'boolean' ? false : '') : typeof p.default === 'object' ? JSON.stringify(p.default) : (p.default as string | boolean)])),
  );
  const [raw, setRaw] = useState('{}');
  const [problems, setProblems] = useState<Record<string, string>>({});
  const freeForm = !schema?.properties;

  function submit(e: Event) {
    e.preventDefault();
    const out: Record<string, unknown> = {};
    const found: Record<string, string> = {};
    if (freeForm) {
      try {
        const parsed = JSON.parse(raw || '{}');
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(out, parsed);
        else found.$ = 'must be a JSON object';
      } catch {
        found.$ = 'is not valid JSON';
      }
    }
    for (const [name, p] of Object.entries(properties)) {
      const v = values[name];
      const t = typeOf(p);
      if (v === '' || v === undefined) {
        if (required.has(name)) found[name] = 'is required';
        continue;
      }
      if (t === 'boolean') out[name] = v === true;
      else if (t === 'number' || t === 'integer') {
        const n = Number(v);
        if (!Number.isFinite(n) || (t === 'integer' && !Number.isInteger(n))) found[name] = `must be ${t === 'integer' ? 'an integer' : 'a number'}`;
        else out[name] = n;
      } else if (t === 'object' || t === 'array') {
        try {
          out[name] = JSON.parse(String(v));
        } catch {
          found[name] = 'is not valid JSON';
        }
      } else if (p.enum && t !== 'string') out[name] = JSON.parse(String(v));
      else out[name] = v;
    }
    setProblems(found);
    if (Object.keys(found).length === 0) onSubmit(out);
  }

  const control = (name: string, p: Schema) => {
    const id = `${idPrefix}-${name}`;
    const t = typeOf(p);
    const common = { id, 'aria-invalid': problems[name] ? 'true' : 'false', 'aria-describedby': `${id}-help` };
    const set = (value: string | boolean) => setValues({ ...values, [name]: value });
    if (t === 'boolean') return html`<input type="checkbox" ...${common} checked=${values[name] === true} onChange=${(e: Event) => set((e.target as HTMLInputElement).checked)} />`;
    if (p.enum) {
      return html`<select ...${common} value=${String(values[name])} onChange=${(e: Event) => set((e.target as HTMLSelectElement).value)}>
        <option value="">—</option>
        ${p.enum.map((v) => html`<option value=${typeof v === 'string' ? v : JSON.stringify(v)}>${String(v)}</option>`)}
      </select>`;
    }
    if (t === 'object' || t === 'array') return html`<textarea ...${common} class="mono" rows="3" value=${String(values[name])} onInput=${(e: Event) => set((e.target as HTMLTextAreaElement).value)}></textarea>`;
    return html`<input ...${common} type=${t === 'number' || t === 'integer' ? 'number' : 'text'} step=${t === 'integer' ? '1' : 'any'} required=${required.has(name)} value=${String(values[name])} onInput=${(e: Event) => set((e.target as HTMLInputElement).value)} />`;
  };

  return html`<form class="schema-form" onSubmit=${submit} novalidate>
    ${freeForm
      ? html`<div class="field"><label for=${`${idPrefix}-raw`}>Input (JSON)</label><textarea id=${`${idPrefix}-raw`} class="mono" rows="4" value=${raw} onInput=${(e: Event) => setRaw((e.target as HTMLTextAreaElement).value)}></textarea>
          ${problems.$ ? html`<div class="field-error" role="alert">${problems.$}</div>` : null}</div>`
      : Object.entries(properties).map(([name, p]) => html`<div class="field">
          <label for=${`${idPrefix}-${name}`}>${p.title ?? name}${required.has(name) ? ' *' : ''}</label>
          ${control(name, p)}
          <div class="hint" id=${`${idPrefix}-${name}-help`}>${typeOf(p)}${p.description ? ` — ${p.description}` : ''}</div>
          ${problems[name] ? html`<div class="field-error" role="alert">${p.title ?? name} ${problems[name]}</div>` : null}
        </div>`)}
    <div class="actions"><button type="submit" class="primary" disabled=${busy}>${submitLabel}</button></div>
  </form>`;
}
