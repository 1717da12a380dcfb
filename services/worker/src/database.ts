import { createDb, type Db, type DbConfigInput } from '@activity-core/db';

/** The worker's database: `createDb`, reporting connection errors to `onError`. */
export function createWorkerDb(config: DbConfigInput, onError: (error: Error) => void): Db {
  return createDb(config, { onPoolError: onError });
}
