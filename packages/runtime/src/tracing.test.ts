import { context, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ConfigError } from './config.ts';
import { createLogger } from './logger.ts';
import { contextFromTraceparent, startTracing, traceparentOf, tracingSettingsFrom } from './tracing.ts';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('tracingSettingsFrom (the OTEL_* decision)', () => {
  test('no OTEL variable: off', () => {
    expect(tracingSettingsFrom({})).toEqual({ enabled: false, reason: expect.stringContaining('OTEL_EXPORTER_OTLP') });
    expect(tracingSettingsFrom({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }).enabled).toBe(false);
    expect(tracingSettingsFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }).enabled).toBe(false);
  });

  test('an endpoint turns it on; the traces endpoint wins; protobuf by default, json on request', () => {
    expect(tracingSettingsFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toEqual({
      enabled: true,
      endpoint: 'http://c:4318',
      protocol: 'http/protobuf',
    });
    expect(
      tracingSettingsFrom({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4318/v1/traces',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }),
    ).toEqual({ enabled: true, endpoint: 'http://t:4318/v1/traces', protocol: 'http/json' });
  });

  test('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none switch it off despite an endpoint', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(tracingSettingsFrom({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
    expect(tracingSettingsFrom({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
    expect(tracingSettingsFrom({ ...endpoint, OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'false' }).enabled).toBe(
      true,
    );
  });

  test('grpc and other exporters are refused, naming the variable', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' };
    const issue = (env: Record<string, string>) => {
      try {
        tracingSettingsFrom(env);
      } catch (error) {
        if (error instanceof ConfigError) return error.issues[0]?.variable;
        throw error;
      }
      return undefined;
    };
    expect(issue({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toBe('OTEL_EXPORTER_OTLP_PROTOCOL');
    expect(issue({ ...endpoint, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' })).toBe(
      'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    );
    expect(issue({ ...endpoint, OTEL_TRACES_EXPORTER: 'zipkin' })).toBe('OTEL_TRACES_EXPORTER');
  });
});

describe('startTracing', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  test('off: nothing installed, the tracer is the no-op one and its spans record nothing', async () => {
    const tracing = await startTracing('svc', {});
    expect(tracing.enabled).toBe(false);
    expect(tracing.spanProcessor).toBeUndefined();
    const span = tracing.tracer.startSpan('x');
    expect(span.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(span.spanContext())).toBe(false);
    span.end();
    // No context manager either: a span made active does not stay active.
    context.with(trace.setSpan(context.active(), span), () => undefined);
    expect(trace.getActiveSpan()).toBeUndefined();
    await tracing.shutdown();
  });

  test('on: spans continue a traceparent, and log lines written under a span carry its traceId and spanId', async () => {
    // Nothing is sampled, so nothing is sent to the (absent) endpoint; span contexts stay valid.
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'always_off');
    const tracing = await startTracing('svc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    try {
      expect(tracing.enabled).toBe(true);
      expect(tracing.resource?.attributes['service.name']).toBe('svc');
      const lines: string[] = [];
      const logger = createLogger({ secrets: [], write: (line) => lines.push(line) });
      logger.info('outside');
      const span = tracing.tracer.startSpan('inside', {}, contextFromTraceparent(TRACEPARENT));
      context.with(trace.setSpan(context.active(), span), () => logger.info('inside'));
      span.end();
      const [outside, inside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(outside?.traceId).toBeUndefined();
      expect(inside).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: span.spanContext().spanId });
    } finally {
      await tracing.shutdown();
    }
  });
});

describe('traceparent helpers', () => {
  test('a traceparent round-trips through a context; a malformed one gives no parent', () => {
    const parent = trace.getSpanContext(contextFromTraceparent(TRACEPARENT));
    expect(parent).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' });
    expect(traceparentOf(parent)).toBe(TRACEPARENT);
    expect(trace.getSpanContext(contextFromTraceparent('00-nothex-01'))).toBeUndefined();
    expect(trace.getSpanContext(contextFromTraceparent(undefined))).toBeUndefined();
    expect(traceparentOf(undefined)).toBeUndefined();
  });
});
