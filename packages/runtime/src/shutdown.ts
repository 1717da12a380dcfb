import type { Logger } from './logger.ts';

/**
 * Runs `stop` once on SIGINT or SIGTERM, then exits. A second SIGINT while stopping exits at
 * once with status 130, for the impatient Ctrl-C. A SIGTERM while stopping is ignored: a
 * supervisor (like `npm start`) sends one after the terminal's SIGINT reached us too.
 */
export function onShutdownSignal(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      if (signal !== 'SIGINT') return;
      logger.warn('second signal while stopping; exiting now', { signal });
      process.exit(130);
    }
    stopping = true;
    logger.info('shutting down', { signal });
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
