import type { Logger } from './logger.ts';

/** What a service's start-up has opened so far (see {@link startUnwinding}). */
export interface StartupResources {
  /** Registers `resource` and how to release it; returns `resource`. */
  own<T>(what: string, resource: T, release: (resource: T) => unknown): T;
}

/**
 * Runs a service's start-up. If a step throws, everything `own`ed before it is released in
 * reverse order (every release runs even if an earlier one fails; those failures are logged)
 * and the step's own error is rethrown. Without it a failed start leaves its NATS connection
 * reconnecting forever and its pools, listeners and workers running: `main.ts` exits anyway,
 * but tests, benchmarks and anything that embeds a service keep living with them.
 * On success nothing is released: the service's `stop()` owns its resources from then on.
 */
export async function startUnwinding<T>(
  logger: Logger,
  start: (resources: StartupResources) => Promise<T>,
): Promise<T> {
  const owned: { what: string; release: () => unknown }[] = [];
  const resources: StartupResources = {
    own(what, resource, release) {
      owned.push({ what, release: () => release(resource) });
      return resource;
    },
  };
  try {
    return await start(resources);
  } catch (error) {
    for (const { what, release } of owned.reverse()) {
      try {
        await release();
      } catch (releaseError) {
        logger.warn('could not release after a failed start', { what, error: releaseError });
      }
    }
    throw error;
  }
}
