import { deadLettersRouter } from './routers/dead-letters.ts';
import { definitionsRouter } from './routers/definitions.ts';
import { eventsRouter } from './routers/events.ts';
import { outboxRouter } from './routers/outbox.ts';
import { runsRouter } from './routers/runs.ts';
import { schedulesRouter } from './routers/schedules.ts';
import { tasksRouter } from './routers/tasks.ts';
import { tokensRouter } from './routers/tokens.ts';
import { router } from './trpc.ts';

/** The whole API. Served at `/trpc` by services/api; typed on the client through `AppRouter`. */
export const appRouter = router({
  definitions: definitionsRouter,
  runs: runsRouter,
  tasks: tasksRouter,
  events: eventsRouter,
  deadLetters: deadLettersRouter,
  outbox: outboxRouter,
  schedules: schedulesRouter,
  tokens: tokensRouter,
});

export type AppRouter = typeof appRouter;
