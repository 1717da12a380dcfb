// OpenTelemetry tracing for a service, configured only by the standard OTEL_* variables. Without
// an OTLP endpoint nothing is installed: the OTel API stays on its no-op tracer, and callers
// that check `tracing.enabled` skip span code altogether. The SDK and its exporters are imported
// only when tracing is on, so a service with tracing off does not even load them.
import {
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ConfigError } from './config.ts';

/** Name of the tracer activity-core's own spans come from. */
export const TRACER_NAME = 'activity-core';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** What the environment asks for: the decision {@link startTracing} carries out. */
export type TracingSettings =
  | { readonly enabled: false; readonly reason: string }
  | { readonly enabled: true; readonly endpoint: string; readonly protocol: OtlpProtocol };

const nonEmpty = (value: string | undefined): string | undefined =>
  value !== undefined && value.trim() !== '' ? value.trim() : undefined;

/**
 * Reads the standard variables: tracing is on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set, unless `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none`. The protocol is `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` /
 * `OTEL_EXPORTER_OTLP_PROTOCOL` (default `http/protobuf`, as the specification says); `grpc` is
 * refused with a ConfigError naming the variable. Pure: unit-tested.
 */
export function tracingSettingsFrom(env: Readonly<Record<string, string | undefined>>): TracingSettings {
  if (nonEmpty(env.OTEL_SDK_DISABLED)?.toLowerCase() === 'true') {
    return { enabled: false, reason: 'OTEL_SDK_DISABLED=true' };
  }
  const exporters = nonEmpty(env.OTEL_TRACES_EXPORTER)
    ?.split(',')
    .map((e) => e.trim().toLowerCase());
  if (exporters?.includes('none')) return { enabled: false, reason: 'OTEL_TRACES_EXPORTER=none' };
  if (exporters?.some((e) => e !== 'otlp')) {
    throw new ConfigError([
      {
        variable: 'OTEL_TRACES_EXPORTER',
        message: `only "otlp" or "none" are supported, got "${env.OTEL_TRACES_EXPORTER}"`,
      },
    ]);
  }
  const endpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (endpoint === undefined) {
    return { enabled: false, reason: 'no OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT' };
  }
  const protocolVariable =
    nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) !== undefined
      ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
      : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = nonEmpty(env[protocolVariable]) ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new ConfigError([
      { variable: protocolVariable, message: `only "http/protobuf" and "http/json" are supported, got "${protocol}"` },
    ]);
  }
  return { enabled: true, endpoint, protocol };
}

/** A service's tracing: either off (no-op tracer, nothing installed) or an installed SDK. */
export interface Tracing {
  readonly enabled: boolean;
  /** activity-core's tracer; the API's no-op tracer when off. */
  readonly tracer: Tracer;
  /** Where finished spans go (the Temporal workflow span sink feeds it); absent when off. */
  readonly spanProcessor?: SpanProcessor;
  /** The service's resource (service.name, OTEL_RESOURCE_ATTRIBUTES); absent when off. */
  readonly resource?: Resource;
  /** Exports what is buffered and uninstalls; resolves at once when off. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = {
  enabled: false,
  tracer: trace.getTracer(TRACER_NAME),
  shutdown: async () => undefined,
};

/**
 * Installs OpenTelemetry tracing for `serviceName` (overridden by `OTEL_SERVICE_NAME`) when the
 * environment asks for it (see {@link tracingSettingsFrom}): a Node tracer provider with the
 * AsyncLocalStorage context manager, W3C trace-context propagation, a batch span processor and
 * an OTLP/HTTP exporter (protobuf or JSON). The SDK reads the rest of the standard variables
 * itself: `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`, `…_TIMEOUT`,
 * `OTEL_BSP_*`, `OTEL_RESOURCE_ATTRIBUTES`. Call `shutdown()` when the service stops, after its
 * last span ended.
 */
export async function startTracing(
  serviceName: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Tracing> {
  const settings = tracingSettingsFrom(env);
  if (!settings.enabled) return OFF;
  const [{ envDetectorSync, Resource }, { BatchSpanProcessor }, { NodeTracerProvider }, { ATTR_SERVICE_NAME }] =
    await Promise.all([
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/semantic-conventions'),
    ]);
  const resource = Resource.default()
    .merge(new Resource({ [ATTR_SERVICE_NAME]: serviceName }))
    .merge(envDetectorSync.detect());
  const exporter =
    settings.protocol === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  const spanProcessor = new BatchSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return {
    enabled: true,
    tracer: provider.getTracer(TRACER_NAME),
    spanProcessor,
    resource,
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

const w3c = new W3CTraceContextPropagator();
const carrierGetter = {
  get: (carrier: Record<string, string>, key: string) => carrier[key],
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
};
const carrierSetter = {
  set: (carrier: Record<string, string>, key: string, value: string) => {
    carrier[key] = value;
  },
};

/**
 * The context whose remote parent is a W3C `traceparent` (and `tracestate`), as CloudEvents'
 * distributed-tracing extension carries them; `ROOT_CONTEXT` when absent or malformed.
 */
export function contextFromTraceparent(traceparent: string | undefined, tracestate?: string): Context {
  if (traceparent === undefined) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent };
  if (tracestate !== undefined) carrier.tracestate = tracestate;
  return w3c.extract(ROOT_CONTEXT, carrier, carrierGetter);
}

/** The W3C `traceparent` of a span (context), or undefined when it is not a valid one. */
export function traceparentOf(span: Span | SpanContext | undefined): string | undefined {
  if (span === undefined) return undefined;
  const spanContext = 'spanContext' in span ? span.spanContext() : span;
  if (!trace.isSpanContextValid(spanContext)) return undefined;
  const carrier: Record<string, string> = {};
  w3c.inject(trace.setSpanContext(ROOT_CONTEXT, spanContext), carrier, carrierSetter);
  return carrier.traceparent;
}
