import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';

// One trace per turn: a span for the turn, children for each model call
// (GenAI semantic conventions) and each tool call; memory and tool-sandbox
// client calls made inside them join the same trace.
// Looked up per span, not once at load: a tracer taken before the SDK is registered (or after a test re-registers it) would stay a no-op.
const tracer = () => trace.getTracer('elixirchain.agent-host');

export async function inSpan<T>(name: string, attributes: Record<string, string | number | boolean>, work: (span: Span) => Promise<T>, kind = SpanKind.INTERNAL): Promise<T> {
  const span = tracer().startSpan(name, { kind, attributes });
  try {
    const result = await context.with(trace.setSpan(context.active(), span), () => work(span));
    span.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
    throw error;
  } finally {
    span.end();
  }
}

export { SpanKind };
