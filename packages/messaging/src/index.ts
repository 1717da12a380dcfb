export type { NatsEnv, NatsSettings } from './connect.ts';
export { connectNats, natsSettingsFrom } from './connect.ts';
export type { MessagingConnection } from './connect-messaging.ts';
export { connectMessaging } from './connect-messaging.ts';
export {
  isAlreadyExists,
  isNoMessageFound,
  isTransientJetStreamError,
  JsApiCode,
  jsApiCode,
} from './jetstream-errors.ts';
export type { PublishRetry, PublishRetryHooks } from './publish.ts';
export {
  isRetryablePublishError,
  PUBLISH_RETRY,
  PUBLISH_RETRY_HORIZON_MS,
  publishRetrying,
  retryingSetup,
  SETUP_RETRY,
} from './publish.ts';
export type { StatusLogger } from './status.ts';
export { describeStatus, watchConnection } from './status.ts';
export type { StreamEnv, StreamLimits, StreamOptions } from './streams.ts';
export {
  DEFAULT_STREAM_LIMITS,
  ensureStreams,
  fieldsNotUpdatable,
  refusalHint,
  StreamErrorCode,
  StreamSettingsError,
  streamConfigs,
  streamLimitsFrom,
  taskEventSubjectInEvents,
} from './streams.ts';
export type { Topology } from './topology.ts';
export { taskSubject, topology } from './topology.ts';
