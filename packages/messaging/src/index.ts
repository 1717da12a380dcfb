export type { NatsSettings } from './connect.ts';
export { connectNats } from './connect.ts';
export type { StreamLimits, StreamOptions } from './streams.ts';
export { DEFAULT_STREAM_LIMITS, ensureStreams, streamConfigs, taskEventSubjectInEvents } from './streams.ts';
export type { Topology } from './topology.ts';
export { taskSubject, topology } from './topology.ts';
