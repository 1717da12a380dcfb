import { z } from 'zod';

/**
 * A JSON object whose fields nobody here interprets: a run's summary and error, a run-log
 * entry's data, a trigger's description. Its schema checks the shape (an object) on every read
 * of such a column; its type is what the activities' contract carries.
 */
export const JsonObject = z.record(z.string(), z.unknown());
export type JsonObject = z.infer<typeof JsonObject>;
