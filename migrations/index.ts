import type { Migration } from 'kysely/migration';
import * as initial from './2026-11-26T1400_initial.ts';
import * as definitionRevision from './2026-12-01T1800_definition-revision.ts';
import * as runLogAtIndex from './2026-12-01T2100_run_log_at_index.ts';
import * as eventWindows from './2026-12-02T1000_event_windows.ts';
import * as outboxSeq from './2026-12-03T0900_outbox-seq.ts';
import * as outboxOrderKey from './2026-12-03T0910_outbox-order-key.ts';
import * as outboxOperations from './2026-12-04T0900_outbox-operations.ts';

/**
 * Every migration, by name, imported statically so no TypeScript loader is needed at run time.
 * Names sort in the order they must run (kysely orders alphanumerically). Add new files here.
 */
export const migrations: Readonly<Record<string, Migration>> = {
  '2026-11-26T1400_initial': initial,
  '2026-12-01T1800_definition-revision': definitionRevision,
  '2026-12-01T2100_run_log_at_index': runLogAtIndex,
  '2026-12-02T1000_event_windows': eventWindows,
  '2026-12-03T0900_outbox-seq': outboxSeq,
  '2026-12-03T0910_outbox-order-key': outboxOrderKey,
  '2026-12-04T0900_outbox-operations': outboxOperations,
};
