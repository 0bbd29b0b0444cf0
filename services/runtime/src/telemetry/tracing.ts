import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { isSpanContextValid } from '@opentelemetry/api';
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import type { Metadata } from '@grpc/grpc-js';

// Spans for every RPC, served and made, with W3C trace context carried in
// gRPC metadata so one trace spans services. Without an SDK registered
// (no OTEL_EXPORTER_OTLP_ENDPOINT) the API is a no-op and costs little.

// One tracer per registered provider (getTracer makes a new object on every call
// while no SDK is registered; the provider changes when an SDK starts or stops).
let tracerProvider: ReturnType<typeof trace.getTracerProvider> | undefined;
let cachedTracer: Tracer | undefined;
function tracer(): Tracer {
  const provider = trace.getTracerProvider();
  if (provider !== tracerProvider || !cachedTracer) {
    tracerProvider = provider;
    cachedTracer = provider.getTracer('elixirchain');
  }
  return cachedTracer;
}

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

/** A span's name and attributes for one RPC method: made once per method, not per call. */
export interface RpcSpanNames {
  name: string;
  attributes: Attributes;
}

export function rpcSpanNames(path: string): RpcSpanNames {
  const [, service = '', method = ''] = path.split('/');
  return { name: `${service}/${method}`, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method } };
}

export function startServerSpan(names: RpcSpanNames, parent: Context): Span {
  return tracer().startSpan(names.name, { kind: SpanKind.SERVER, attributes: names.attributes }, parent);
}

export function startClientSpan(names: RpcSpanNames): Span {
  return tracer().startSpan(names.name, { kind: SpanKind.CLIENT, attributes: names.attributes });
}

/**
 * The active context with `span` in it. A span with no valid context (no SDK
 * registered: tracing is off) has nothing to carry, so the active context is
 * returned as it is rather than copied for every call.
 */
export function contextWithSpan(span: Span): Context {
  const active = context.active();
  return isSpanContextValid(span.spanContext()) ? trace.setSpan(active, span) : active;
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
