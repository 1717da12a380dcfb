export type { IngestConsumerSettings } from './consumer.ts';
export { ensureIngestConsumer, ingestConsumerConfig, redeliveryBackoffMs } from './consumer.ts';
export type { DeadLetter, DeadLetterReason } from './dead-letter.ts';
export { deadLetterHeaders, deadLetterSubject, originalSubject, publishDeadLetter } from './dead-letter.ts';
export type {
  DeadLetterDetail,
  DeadLetterPage,
  DeadLetterReaderDeps,
  DeadLetterSummary,
  ListDeadLettersOptions,
} from './dead-letter-reader.ts';
export { getDeadLetter, listDeadLetters } from './dead-letter-reader.ts';
export type { DefinitionIndexOptions } from './definition-index.ts';
export { DefinitionIndex } from './definition-index.ts';
export { DlqHeader, IdentityHeader } from './headers.ts';
export type { IngestMetrics } from './metrics.ts';
export { createIngestMetrics } from './metrics.ts';
export type { DefinitionSource, IngestPipeline, IngestPipelineDeps, IngestPipelineOptions } from './pipeline.ts';
export { createIngestPipeline, DEFAULT_PULL_EXPIRES_MS } from './pipeline.ts';
export { toRawMessage } from './raw-message.ts';
export type { RedriveDeps, RedriveOptions, RedriveResult } from './redrive.ts';
export { DEFAULT_REDRIVE_LIMIT, redriveDeadLetters } from './redrive.ts';
export type { RunStarter, RunStartRequest, RunStartResult, TemporalRunStarterOptions } from './run-starter.ts';
export { createTemporalRunStarter, isUnavailableError } from './run-starter.ts';
export type { StoredEvent, StoredEventsOptions } from './stored-events.ts';
export { eventsSubject, readStoredEvents } from './stored-events.ts';
export type { StreamReadOptions } from './stream-reader.ts';
export { readStream } from './stream-reader.ts';
