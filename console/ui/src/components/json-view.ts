import { html } from '../html.js';

export function JsonView({ value, label }: { value: unknown; label?: string }) {
  return html`<pre class="json" aria-label=${label ?? 'JSON'} tabindex="0">${JSON.stringify(value, null, 2)}</pre>`;
}

/** A google.protobuf.Duration as the gateway sends it ({ seconds, nanos }) or as "1.5s". */
export function formatDuration(d: string | { seconds?: number; nanos?: number } | undefined): string {
  if (!d) return '';
  const seconds = typeof d === 'object' ? (d.seconds ?? 0) + (d.nanos ?? 0) / 1e9 : Number(String(d).replace(/s$/, ''));
  if (!Number.isFinite(seconds)) return String(d);
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(2)} s`;
}

export function shortEnum(value: string | undefined, prefix: string): string {
  return (value ?? '').replace(prefix, '').toLowerCase().replace(/_/g, ' ');
}
