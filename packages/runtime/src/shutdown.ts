import type { Logger } from './logger.ts';

export interface ShutdownOptions {
  /**
   * The longest a stop may take: past it the process logs what it was waiting for and exits
   * with status 1, so a stuck dependency cannot keep it alive. Default: no limit.
   */
  readonly timeoutMs?: number;
}

/**
 * Runs `stop` once on SIGINT or SIGTERM, then exits. A second SIGINT while stopping exits at
 * once with status 130, for the impatient Ctrl-C. A SIGTERM while stopping is ignored: a
 * supervisor (like `npm start`) sends one after the terminal's SIGINT reached us too.
 */
export function onShutdownSignal(stop: () => Promise<void>, logger: Logger, options: ShutdownOptions = {}): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      if (signal !== 'SIGINT') return;
      logger.warn('second signal while stopping; exiting now', { signal });
      process.exit(130);
    }
    stopping = true;
    logger.info('shutting down', { signal });
    if (options.timeoutMs !== undefined) {
      const limit = options.timeoutMs;
      setTimeout(() => {
        logger.error('shutdown did not finish in time; exiting', { timeoutMs: limit });
        process.exit(1);
      }, limit).unref();
    }
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
