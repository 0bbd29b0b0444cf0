import { useConsoleConfig } from '../api/console-config.js';
import { html } from '../html.js';

/** "trace" to Jaeger's view of a turn's or a run's trace: only when the console knows Jaeger and the service named the trace. */
export function TraceLink({ traceId, what }: { traceId?: string; what: string }) {
  const { jaegerUrl } = useConsoleConfig();
  if (!jaegerUrl || !traceId) return null;
  return html`<a class="trace-link" href=${`${jaegerUrl}/trace/${encodeURIComponent(traceId)}`} target="_blank" rel="noopener noreferrer" aria-label=${`Trace of ${what} in Jaeger (opens a new tab)`} data-trace-id=${traceId}>trace</a>`;
}
