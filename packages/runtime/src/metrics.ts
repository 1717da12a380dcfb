import { Gauge, type Registry } from 'prom-client';
import type { Logger } from './logger.ts';

/** Scrapes within this long of each other share one read. */
const READ_TTL_MS = 1000;

export interface ScrapedGaugesOptions<T> {
  readonly registry: Registry;
  /** Reads the figures (a query, a server call); once per scrape however many gauges use it. */
  readonly read: () => Promise<T>;
  readonly logger: Logger;
  /** What `read` reads, for the debug line when it fails. */
  readonly what: string;
  readonly gauges: Readonly<Record<string, { readonly help: string; readonly value: (figures: T) => number }>>;
}

/**
 * Gauges whose values are read when Prometheus scrapes (prom-client's `collect`), all from one
 * `read`. A failed read keeps each gauge's last value and logs at debug: /metrics still answers.
 */
export function registerScrapedGauges<T>(options: ScrapedGaugesOptions<T>): void {
  let cached: { at: number; figures: Promise<T> } | undefined;
  const figures = () => {
    const now = Date.now();
    if (!cached || now - cached.at > READ_TTL_MS) cached = { at: now, figures: options.read() };
    return cached.figures;
  };
  for (const [name, spec] of Object.entries(options.gauges)) {
    new Gauge({
      name,
      help: spec.help,
      registers: [options.registry],
      async collect() {
        try {
          this.set(spec.value(await figures()));
        } catch (error) {
          options.logger.debug(`${options.what} not read for /metrics`, { error });
        }
      },
    });
  }
}
