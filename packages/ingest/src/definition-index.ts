import {
  buildMatcher,
  type EventEnvelope,
  type EventMatcher,
  type ExpressionLimits,
  type MatchableDefinition,
  type MatchOutcome,
  Trigger,
} from '@activity-core/core';
import {
  type DefinitionListener,
  type Executor,
  listActiveDefinitions,
  listenForDefinitionChanges,
} from '@activity-core/db';
import type { Logger } from '@activity-core/runtime';
import type { IngestMetrics } from './metrics.ts';

export interface DefinitionIndexOptions {
  readonly db: Executor;
  /** Connection URL for the dedicated LISTEN connection. */
  readonly databaseUrl: string;
  readonly logger: Logger;
  readonly metrics?: IngestMetrics;
  /** CEL budget and input limits filters run under (default: the core's defaults). */
  readonly expressionLimits?: ExpressionLimits;
  /** Full reload interval, the safety net under LISTEN/NOTIFY. */
  readonly refreshIntervalMs: number;
  /**
   * How old the last successful load may be while LISTEN is down before the index counts as
   * stale. A stale index must not decide "no match" (that would ack and drop an event), so
   * ingest pauses until it is fresh again.
   */
  readonly maxStalenessMs?: number;
  /** Coalesces bursts of notifications into one reload. */
  readonly debounceMs?: number;
}

/**
 * The enabled event-triggered definitions, in memory, matched with core's `buildMatcher`.
 * Reloaded in full on every PostgreSQL NOTIFY on the definitions channel (debounced), on a
 * timer, and after the LISTEN connection is re-established; the matcher is swapped atomically.
 */
export class DefinitionIndex {
  readonly #options: DefinitionIndexOptions;
  #matcher: EventMatcher = buildMatcher([]);
  #size = 0;
  #loadedAt = 0;
  #listening = false;
  #listener: DefinitionListener | undefined;
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #reloading: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(options: DefinitionIndexOptions) {
    this.#options = options;
  }

  /** Loads once (throws if the database cannot be read), then listens and refreshes. */
  async start(): Promise<void> {
    await this.#listen();
    await this.reload();
    this.#timer = setInterval(() => void this.reload().catch(() => {}), this.#options.refreshIntervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#debounce);
    clearTimeout(this.#reconnect);
    await this.#listener?.close().catch(() => {});
    await this.#reloading?.catch(() => {});
  }

  get size(): number {
    return this.#size;
  }

  /** Loaded at least once, and either listening for changes or recently reloaded. */
  isFresh(now = Date.now()): boolean {
    if (this.#loadedAt === 0) return false;
    if (this.#listening) return true;
    const max = this.#options.maxStalenessMs ?? 2 * this.#options.refreshIntervalMs;
    return now - this.#loadedAt <= max;
  }

  /** The definitions the event starts, and those whose filter failed on it (each within its own budget). */
  match(envelope: EventEnvelope): MatchOutcome {
    return this.#matcher.match(envelope);
  }

  /** Reloads everything now. Concurrent calls share one load, plus one more if asked during it. */
  reload(): Promise<void> {
    if (this.#reloading !== undefined) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = this.#load().finally(() => {
      this.#reloading = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        void this.reload().catch(() => {});
      }
    });
    return this.#reloading;
  }

  async #load(): Promise<void> {
    const { logger, metrics } = this.#options;
    try {
      const records = await listActiveDefinitions(this.#options.db);
      const definitions: MatchableDefinition[] = [];
      for (const record of records) {
        const trigger = Trigger.safeParse(record.spec.trigger);
        if (!trigger.success) {
          logger.warn('definition has an unreadable trigger; it will not match', { definitionId: record.id });
          continue;
        }
        if (trigger.data.kind !== 'event') continue;
        const maxExpressionCost = record.spec.limits.maxExpressionCost;
        definitions.push({
          id: record.id,
          version: record.version,
          key: record.key,
          trigger: trigger.data.event,
          ...(maxExpressionCost !== undefined ? { maxExpressionCost } : {}),
        });
      }
      const limits = this.#options.expressionLimits;
      const matcher = buildMatcher(definitions, limits ? { limits } : {});
      for (const error of matcher.errors) {
        logger.warn('definition filter does not compile; its events are parked as filter_error', { ...error });
      }
      this.#matcher = matcher;
      this.#size = definitions.length;
      this.#loadedAt = Date.now();
      metrics?.definitions.set(definitions.length);
      metrics?.indexRefreshes.inc({ outcome: 'ok' });
      logger.debug('definition index loaded', { definitions: definitions.length });
    } catch (error) {
      metrics?.indexRefreshes.inc({ outcome: 'error' });
      logger.warn('definition index reload failed', { error });
      throw error;
    }
  }

  #scheduleReload(): void {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.reload().catch(() => {}), this.#options.debounceMs ?? 50);
  }

  async #listen(): Promise<void> {
    try {
      this.#listener = await listenForDefinitionChanges({
        url: this.#options.databaseUrl,
        onChange: () => this.#scheduleReload(),
        onError: (error) => {
          this.#listening = false;
          this.#options.logger.warn('definition LISTEN connection lost; reconnecting', { error });
          void this.#listener?.close().catch(() => {});
          this.#retryListen(500);
        },
      });
      this.#listening = true;
    } catch (error) {
      this.#options.logger.warn('cannot LISTEN for definition changes; retrying', { error });
      this.#retryListen(1000);
    }
  }

  #retryListen(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#reconnect);
    this.#reconnect = setTimeout(() => {
      void this.#listen().then(() => {
        // Changes made while disconnected were not notified: reload everything.
        if (this.#listening) this.#scheduleReload();
      });
    }, delayMs);
    this.#reconnect.unref();
  }
}
