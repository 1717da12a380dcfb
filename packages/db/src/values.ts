import { z } from 'zod';

// Schemas of the JSON columns that @activity-core/core does not own, applied on every read.
// Definition specs and run events are parsed with core's ActivityDefinitionSpec and StoredEventEnvelope;
// object columns (run summary and error, run-log data) with core's JsonObject.

export const JsonValue = z.json();
export type JsonValue = z.infer<typeof JsonValue>;

export const OutboxHeaders = z.record(z.string(), z.string());
export type OutboxHeaders = z.infer<typeof OutboxHeaders>;
