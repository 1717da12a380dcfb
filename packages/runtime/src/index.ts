export {
  ConfigError,
  envBoolean,
  expressionLimits,
  parseConfig,
  portSchema,
  positiveIntSchema,
  SharedEnv,
} from './config.ts';
export type { OpsServer, OpsServerOptions, ReadinessCheck } from './http.ts';
export { startOpsServer } from './http.ts';
export type { Logger, LogLevel } from './logger.ts';
export { createLogger, redact } from './logger.ts';
export type { ShutdownOptions } from './shutdown.ts';
export { onShutdownSignal } from './shutdown.ts';
