import { useEffect, useState } from 'preact/hooks';
import { api, type ApiErrorBody } from '../api/gateway-api.js';
import { ErrorNotice, errorOf } from '../components/error-notice.js';
import { JsonView } from '../components/json-view.js';
import { html } from '../html.js';

/** Semantic memory: namespaces, and a search with a metadata filter that shows each result's score. */
export function MemoryPage() {
  const [namespaces, setNamespaces] = useState<any[]>([]);
  const [namespace, setNamespace] = useState('');
  const [text, setText] = useState('');
  const [topK, setTopK] = useState('5');
  const [minScore, setMinScore] = useState('');
  const [filter, setFilter] = useState('');
  const [results, setResults] = useState<any[] | undefined>();
  const [error, setError] = useState<ApiErrorBody | undefined>();
  useEffect(() => {
    api.get('/api/memory/namespaces?pageSize=200').then(
      (r) => {
        setNamespaces(r.namespaces ?? []);
        if (r.namespaces?.[0]) setNamespace(r.namespaces[0].name);
      },
      (e) => setError(errorOf(e)),
    );
  }, []);

  async function search(e: Event) {
    e.preventDefault();
    setError(undefined);
    let parsedFilter: unknown;
    if (filter.trim()) {
      try {
        parsedFilter = JSON.parse(filter);
      } catch {
        setError({ code: 3, codeName: 'INVALID_ARGUMENT', reason: '', message: 'the filter is not valid JSON', fieldViolations: [{ field: 'filter', description: 'is not valid JSON' }] });
        return;
      }
    }
    try {
      const r = await api.post('/api/memory/search', { namespace, queryText: text, topK: Number(topK) || 5, ...(minScore ? { minScore: Number(minScore) } : {}), ...(parsedFilter ? { filter: parsedFilter } : {}) });
      setResults(r.results ?? []);
    } catch (thrown) {
      setError(errorOf(thrown));
    }
  }

  return html`<section aria-labelledby="memory-title">
    <h1 id="memory-title">Memory</h1>
    <${ErrorNotice} error=${error} />
    <table class="list" aria-label="Namespaces">
      <thead><tr><th scope="col">Namespace</th><th scope="col">Memories</th><th scope="col">Embedder</th></tr></thead>
      <tbody>
        ${namespaces.map((n) => html`<tr><td>${n.name}</td><td>${n.memoryCount ?? 0}</td><td>${n.embedder} (${n.dimensions})</td></tr>`)}
        ${namespaces.length === 0 ? html`<tr><td colspan="3" class="muted">No namespaces yet.</td></tr>` : null}
      </tbody>
    </table>
    <form class="inline-form" onSubmit=${search} aria-label="Search memories">
      <label>Namespace
        <select value=${namespace} onChange=${(e: Event) => setNamespace((e.target as HTMLSelectElement).value)}>
          ${namespaces.map((n) => html`<option value=${n.name}>${n.name}</option>`)}
        </select>
      </label>
      <label>Query <input value=${text} onInput=${(e: Event) => setText((e.target as HTMLInputElement).value)} required /></label>
      <label>Top k <input type="number" min="1" max="100" value=${topK} onInput=${(e: Event) => setTopK((e.target as HTMLInputElement).value)} /></label>
      <label>Min score <input type="number" step="0.05" min="-1" max="1" value=${minScore} onInput=${(e: Event) => setMinScore((e.target as HTMLInputElement).value)} /></label>
      <label>Metadata filter (JSON) <input class="mono" placeholder='{"all":[{"field":"topic","eq":"billing"}]}' value=${filter} onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} /></label>
      <button type="submit" class="primary" disabled=${!namespace}>Search</button>
    </form>
    ${results
      ? html`<table class="list" aria-label="Search results">
          <thead><tr><th scope="col">Score</th><th scope="col">Memory</th><th scope="col">Metadata</th></tr></thead>
          <tbody>
            ${results.map((r) => html`<tr><td><meter min="-1" max="1" value=${r.score} aria-label="score"></meter> ${Number(r.score).toFixed(3)}</td><td>${r.memory?.text}</td><td><${JsonView} value=${r.memory?.metadata ?? {}} label="Metadata" /></td></tr>`)}
            ${results.length === 0 ? html`<tr><td colspan="3" class="muted">Nothing scored high enough.</td></tr>` : null}
          </tbody>
        </table>`
      : null}
  </section>`;
}
