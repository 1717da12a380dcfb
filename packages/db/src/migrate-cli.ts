#!/usr/bin/env node
// `node packages/db/src/migrate-cli.ts up|down|status` against DATABASE_URL.
import { createDb } from './config.ts';
import { migrateDown, migrateToLatest, migrationStatus } from './migrator.ts';

const USAGE = 'usage: migrate-cli.ts up|down|status   (reads DATABASE_URL)';

async function main(argv: readonly string[]): Promise<number> {
  const command = argv[0];
  const url = process.env.DATABASE_URL;
  if (command !== 'up' && command !== 'down' && command !== 'status') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (!url) {
    process.stderr.write(`DATABASE_URL is not set\n${USAGE}\n`);
    return 2;
  }
  const db = createDb({ url, poolMax: 1, statementTimeoutMs: 0 });
  try {
    switch (command) {
      case 'up': {
        const done = await migrateToLatest(db);
        if (done.length === 0) process.stdout.write('up to date\n');
        for (const s of done) process.stdout.write(`applied ${s.name}\n`);
        return 0;
      }
      case 'down': {
        const done = await migrateDown(db);
        if (done.length === 0) process.stdout.write('nothing to undo\n');
        for (const s of done) process.stdout.write(`reverted ${s.name}\n`);
        return 0;
      }
      case 'status': {
        for (const m of await migrationStatus(db)) {
          process.stdout.write(
            `${m.executedAt ? m.executedAt.toISOString() : 'pending                 '}  ${m.name}\n`,
          );
        }
        return 0;
      }
    }
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `\n  cause: ${error.cause.message}` : '';
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}${cause}\n`);
    return 1;
  } finally {
    await db.destroy();
  }
}

process.exitCode = await main(process.argv.slice(2));
