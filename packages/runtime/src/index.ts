export {
  ConfigError,
  envBoolean,
  envList,
  expressionLimits,
  parseConfig,
  portSchema,
  positiveIntSchema,
  SharedEnv,
} from './config.ts';
export type { OpsServer, OpsServerOptions, ReadinessCheck } from './http.ts';
export { startOpsServer } from './http.ts';
export type { Logger, LoggerOptions, LogLevel, TemporalLogger } from './logger.ts';
export {
  createLogger,
  REDACT_PATHS,
  redact,
  secretValuesFrom,
  silentLogger,
  silentTemporalLogger,
  temporalLogger,
} from './logger.ts';
export type { ScrapedGaugesOptions } from './metrics.ts';
export { registerScrapedGauges } from './metrics.ts';
export type { ServiceConfig } from './service-config.ts';
export { parseServiceConfig } from './service-config.ts';
export type { ShutdownOptions } from './shutdown.ts';
export { onShutdownSignal } from './shutdown.ts';
export type { StartupResources } from './startup.ts';
export { startUnwinding } from './startup.ts';
export type { TemporalConnectionOptions, TemporalSettings, TemporalTls } from './temporal.ts';
export { DEFAULT_TEMPORAL_ADDRESS, DEFAULT_TEMPORAL_NAMESPACE, loadTemporalSettings } from './temporal.ts';
export type { OtlpProtocol, Tracing, TracingSettings } from './tracing.ts';
export { contextFromTraceparent, startTracing, TRACER_NAME, traceparentOf, tracingSettingsFrom } from './tracing.ts';
