import { metrics } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { envConfig } from '../config/env-config.js';

export interface Telemetry {
  readonly enabled: boolean;
  /** The meter provider when metrics are on (tests read it through their reader). */
  readonly meterProvider?: MeterProvider;
  /** Flushes and stops exporting; safe to call more than once. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** Spans go here instead of OTLP (tests: an InMemorySpanExporter). */
  exporter?: SpanExporter;
  /** Metrics are read by this reader instead of the OTLP one (tests: a reader they collect() from). */
  metricReader?: MetricReader;
}

/**
 * Starts OpenTelemetry when OTEL_EXPORTER_OTLP_ENDPOINT is set: traces and
 * metrics (every OTEL_METRIC_EXPORT_INTERVAL ms, default 60 s) by OTLP/gRPC.
 * A test passes an exporter and/or a metric reader instead; each turns on only
 * its own signal. Start-up never waits on an exporter. Instruments are created
 * through the global API (`metrics.getMeter`) after this runs.
 */
export function initTelemetry(serviceName: string, options: TelemetryOptions = {}): Telemetry {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const resource = resourceFromAttributes({ 'service.name': `elixirchain-${serviceName}` });
  const tracing = options.exporter !== undefined || (endpoint !== undefined && endpoint !== '' && !options.metricReader);
  const metricReader =
    options.metricReader ??
    (endpoint && !options.exporter
      ? new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: envConfig.int('OTEL_METRIC_EXPORT_INTERVAL', 60_000, { min: 100 }) })
      : undefined);
  if (!tracing && !metricReader) return { enabled: false, shutdown: async () => {} };

  let sdk: NodeSDK | undefined;
  if (tracing) {
    const spanProcessor = options.exporter ? new SimpleSpanProcessor(options.exporter) : new BatchSpanProcessor(new OTLPTraceExporter());
    // Metrics are ours (below); left to itself NodeSDK would also start OTLP metric and log exporters from env defaults.
    sdk = new NodeSDK({ resource, spanProcessors: [spanProcessor], metricReaders: [], logRecordProcessors: [], instrumentations: [] });
    sdk.start();
  }
  let meterProvider: MeterProvider | undefined;
  if (metricReader) {
    meterProvider = new MeterProvider({ resource, readers: [metricReader] });
    metrics.setGlobalMeterProvider(meterProvider);
  }
  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    meterProvider,
    shutdown: () =>
      (stopping ??= Promise.all([sdk?.shutdown().catch(() => {}), meterProvider?.shutdown().catch(() => {})]).then(() => undefined)),
  };
}
