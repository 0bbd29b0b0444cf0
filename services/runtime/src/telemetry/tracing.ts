import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import type { Metadata } from '@grpc/grpc-js';

// Spans for every RPC, served and made, with W3C trace context carried in
// gRPC metadata so one trace spans services. Without an SDK registered
// (no OTEL_EXPORTER_OTLP_ENDPOINT) the API is a no-op and costs little.

const tracer = () => trace.getTracer('elixirchain');

const metadataGetter = {
  keys: (carrier: Metadata) => Object.keys(carrier.getMap()),
  get: (carrier: Metadata, key: string) => {
    const values = carrier.get(key);
    return values.length === 0 ? undefined : values.map(String);
  },
};
const metadataSetter = { set: (carrier: Metadata, key: string, value: string) => carrier.set(key, value) };

export function extractTraceContext(metadata: Metadata): Context {
  return propagation.extract(context.active(), metadata, metadataGetter);
}

export function injectTraceContext(metadata: Metadata, ctx: Context = context.active()): void {
  propagation.inject(ctx, metadata, metadataSetter);
}

function splitMethod(path: string): { service: string; method: string } {
  const [, service = '', method = ''] = path.split('/');
  return { service, method };
}

export function startServerSpan(path: string, parent: Context): Span {
  const { service, method } = splitMethod(path);
  return tracer().startSpan(
    `${service}/${method}`,
    { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method } },
    parent,
  );
}

export function startClientSpan(path: string): Span {
  const { service, method } = splitMethod(path);
  return tracer().startSpan(`${service}/${method}`, {
    kind: SpanKind.CLIENT,
    attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method },
  });
}

export function endSpan(span: Span, code: number, message?: string): void {
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}

export { context, trace };

/**
 * The W3C trace id (32 hex digits) of the span active here, or '' when there
 * is none or tracing is off: what a turn or run tells its watchers, so they
 * can open the trace (e.g. in Jaeger).
 */
export function activeTraceId(): string {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : '';
}
