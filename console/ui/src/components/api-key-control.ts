import { useState } from 'preact/hooks';
import { apiKey, setApiKey } from '../api/gateway-api.js';
import { html } from '../html.js';

/**
 * Log in with an API key (ELIXIRCHAIN_AUTH=required): kept for this browser
 * tab only (sessionStorage) and sent as a bearer token; the services decide
 * what its tenant and role may see. Local developer mode needs none.
 */
export function ApiKeyControl() {
  const [saved, setSaved] = useState(apiKey());
  const [draft, setDraft] = useState('');
  const keyId = /^ek_([^_]+)_/.exec(saved)?.[1];
  return html`<details class="api-key">
    <summary>${saved ? `Key ${keyId ?? '(set)'}` : 'API key'}</summary>
    <form onSubmit=${(e: Event) => {
      e.preventDefault();
      setApiKey(draft.trim());
      setSaved(draft.trim());
      setDraft('');
      location.reload();
    }}>
      <label>API key <input type="password" autocomplete="off" value=${draft} placeholder="ek_…" onInput=${(e: Event) => setDraft((e.target as HTMLInputElement).value)} /></label>
      <div class="actions">
        <button type="submit" class="primary" disabled=${!draft.trim()}>Use key</button>
        ${saved ? html`<button type="button" onClick=${() => { setApiKey(''); location.reload(); }}>Forget key</button>` : null}
      </div>
      <p class="muted">Only needed when the mesh runs with ELIXIRCHAIN_AUTH=required.</p>
    </form>
  </details>`;
}
