import { html } from '../html.js';
import type { ApiErrorBody } from '../api/gateway-api.js';
import { ApiError } from '../api/gateway-api.js';

export function errorOf(thrown: unknown): ApiErrorBody {
  if (thrown instanceof ApiError) return thrown.body;
  return { code: 2, codeName: 'UNKNOWN', reason: '', message: thrown instanceof Error ? thrown.message : String(thrown), fieldViolations: [] };
}

/** A failed call as the service reported it: code, reason, message, and each field that was wrong. */
export function ErrorNotice({ error }: { error: ApiErrorBody | undefined }) {
  if (!error) return null;
  return html`<div class="error" role="alert">
    <strong>${error.codeName}</strong>${error.reason && error.reason !== error.codeName ? html` <code>${error.reason}</code>` : null}: ${error.message}
    ${error.fieldViolations?.length
      ? html`<ul>${error.fieldViolations.map((v) => html`<li><code>${v.field}</code> ${v.description}</li>`)}</ul>`
      : null}
    ${error.retryAfterMs ? html`<div>retry after ${Math.ceil(error.retryAfterMs / 1000)} s</div>` : null}
  </div>`;
}
