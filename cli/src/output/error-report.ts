import { Status } from '@elixirchain/proto/google/rpc/status';
import { ErrorInfo, BadRequest, RetryInfo } from '@elixirchain/proto/google/rpc/error_details';

const CODE_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

export interface ErrorReport {
  /** gRPC status name, when the error came from a call. */
  code?: string;
  reason?: string;
  message: string;
  fieldViolations?: { field: string; description: string }[];
  retryAfterMs?: number;
  /** The whole thing on one line, for humans. */
  line: string;
}

/** One line for a human: `NOT_FOUND (AGENT_NOT_FOUND): agent "x" does not exist`. */
export function describeError(err: unknown): ErrorReport {
  const e = (err ?? {}) as {
    code?: number | string;
    reason?: string;
    details?: string;
    message?: string;
    metadata?: { get(key: string): unknown[] };
    fieldViolations?: { field: string; description: string }[];
    retryAfterMs?: number;
  };
  const code = typeof e.code === 'number' ? CODE_NAMES[e.code] : typeof e.code === 'string' && CODE_NAMES.includes(e.code) ? e.code : undefined;
  const report: ErrorReport = { message: (code ? e.details || e.message : e.message) ?? String(err), line: '' };
  if (code) report.code = code;
  if (e.reason) report.reason = e.reason;
  if (e.fieldViolations?.length) report.fieldViolations = e.fieldViolations.map((v) => ({ field: v.field, description: v.description }));
  if (typeof e.retryAfterMs === 'number' && e.retryAfterMs > 0) report.retryAfterMs = e.retryAfterMs;
  // A raw grpc-js ServiceError: read google.rpc.Status from grpc-status-details-bin.
  const raw = e.metadata?.get?.('grpc-status-details-bin')?.[0];
  if (raw instanceof Uint8Array) {
    try {
      const status = Status.decode(raw);
      for (const any of status.details) {
        const name = any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
        if (name === 'google.rpc.ErrorInfo') report.reason ??= ErrorInfo.decode(any.value).reason;
        if (name === 'google.rpc.BadRequest') report.fieldViolations ??= BadRequest.decode(any.value).fieldViolations.map((v) => ({ field: v.field, description: v.description }));
        if (name === 'google.rpc.RetryInfo') {
          const delay = RetryInfo.decode(any.value).retryDelay;
          if (delay) report.retryAfterMs = delay.seconds * 1000 + Math.round(delay.nanos / 1e6);
        }
      }
    } catch {
      // Details are a bonus; the status line stands without them.
    }
  }
  // grpc-js prefixes "5 NOT_FOUND: " to messages; the code is shown separately.
  report.message = report.message.replace(/^\d+ [A-Z_]+: /, '');
  if (/ECONNREFUSED/.test(report.message)) report.message = `${report.message.replace(/\s*Last error:.*$/s, '').replace(/\.$/, '')}: connection refused (is the mesh running? start it with \`npm start\`)`;
  const head = code ? `${code}${report.reason && report.reason !== code ? ` (${report.reason})` : ''}: ` : '';
  const fields = report.fieldViolations?.length ? ` [${report.fieldViolations.map((v) => `${v.field}: ${v.description}`).join('; ')}]` : '';
  const retry = report.retryAfterMs !== undefined ? ` (retry after ${Math.ceil(report.retryAfterMs / 1000)} s)` : '';
  report.line = `${head}${report.message}${fields}${retry}`.replace(/\s*\n\s*/g, ' ');
  return report;
}
