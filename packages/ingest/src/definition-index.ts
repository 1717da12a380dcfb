// The definitions ingest matches events against, kept in memory and brought up to date by
// causality: before a message is matched, the index has read the definition feed at a moment
// after the message was received, so it reflects every definition write that returned before
// the message was published (the write committed before the publish; the publish happened
// before the receipt; the read after it). See "Definitions take effect when saved" in the README.
import {
  createDefinitionMatcher,
  type DefinitionMatcher,
  type EventEnvelope,
  type ExpressionLimits,
  type MatchableDefinition,
  type MatchOutcome,
  Trigger,
} from '@activity-core/core';
import {
  type DefinitionListener,
  type DefinitionTriggerRow,
  type Executor,
  listenForDefinitionChanges,
  readActiveEventDefinitions,
  readDefinitionChanges,
} from '@activity-core/db';
import type { Logger } from '@activity-core/runtime';
import type { IngestMetrics } from './metrics.ts';
import { ReadBarrier } from './read-barrier.ts';

export interface DefinitionIndexOptions {
  readonly db: Executor;
  /** Connection URL for the dedicated LISTEN connection. */
  readonly databaseUrl: string;
  readonly logger: Logger;
  readonly metrics?: IngestMetrics;
  /** CEL budget and input limits filters run under (default: the core's defaults). */
  readonly expressionLimits?: ExpressionLimits;
  /**
   * Full rebuild interval: a safety net under the incremental feed (built aside while matching
   * goes on, then swapped in).
   */
  readonly refreshIntervalMs: number;
  /** Coalesces a burst of notifications into one read of the feed. */
  readonly debounceMs?: number;
  /** Definitions applied between two yields to the event loop during a rebuild or a big catch-up. */
  readonly chunkSize?: number;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The enabled event-triggered definitions, matched with core's incremental matcher.
 *
 * - **Read your writes.** `ticket()` when a message arrives, `await catchUp(ticket)` before
 *   matching it: that resolves once a read of the definition feed *sent after the ticket was
 *   taken* has been applied. One read serves every message that arrived before it was sent,
 *   so under load it costs about one query per pull batch; when nothing changed it is an
 *   index scan that finds no row. It rejects when the database cannot be read: the pipeline
 *   then hands the message back instead of acking it as unmatched on an index that may be older.
 * - **Incremental.** A read returns the definitions written since the revision the index
 *   reflects, once each in their current state; applying one costs that definition's patterns
 *   and filter. NOTIFY only makes the index read sooner (a hint; correctness never waits on it).
 * - **Safety net.** Every `refreshIntervalMs` the whole index is rebuilt from a full read, aside
 *   (in chunks, matching goes on against the current one), caught up with what changed
 *   meanwhile, then swapped in. A deletion (which leaves no row to read) triggers the same.
 */
export class DefinitionIndex {
  readonly #options: DefinitionIndexOptions;
  #matcher: DefinitionMatcher;
  /** The definitions revision the matcher reflects (-1: not loaded yet). */
  #revision = -1;
  /** Feed reads in causal order with the messages (see {@link catchUp}). */
  readonly #barrier = new ReadBarrier(() => this.#exclusive(() => this.#catchUpOnce()));
  /** Serializes everything that changes the matcher or the revision. */
  #lock: Promise<unknown> = Promise.resolve();
  #rebuilding: Promise<void> | undefined;
  #listener: DefinitionListener | undefined;
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: DefinitionIndexOptions) {
    this.#options = options;
    this.#matcher = this.#emptyMatcher();
  }

  /** Loads everything once (throws if the database cannot be read; call again), then listens and refreshes. */
  async start(): Promise<void> {
    await this.#exclusive(() => this.#rebuild());
    await this.#listen();
    this.#timer = setInterval(() => void this.rebuild().catch(() => {}), this.#options.refreshIntervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#debounce);
    clearTimeout(this.#reconnect);
    await this.#listener?.close().catch(() => {});
    await this.#lock.catch(() => {});
  }

  get size(): number {
    return this.#matcher.size;
  }

  /** The definitions revision the index reflects. */
  get revision(): number {
    return this.#revision;
  }

  /** Take when a message arrives; pass to {@link catchUp} before matching it. */
  ticket(): number {
    return this.#barrier.ticket();
  }

  /**
   * Resolves once the index reflects every definition write committed before `ticket` was
   * taken (a feed read sent after it has been applied); rejects when the feed cannot be read.
   */
  catchUp(ticket: number): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the definition index is closed'));
    return this.#barrier.after(ticket);
  }

  /** The definitions the event starts, and those whose filter failed on it (each within its own budget). */
  match(envelope: EventEnvelope): MatchOutcome {
    return this.#matcher.match(envelope);
  }

  /** Rebuilds the whole index aside and swaps it in. Concurrent calls share one rebuild. */
  rebuild(): Promise<void> {
    this.#rebuilding ??= this.#rebuildAside().finally(() => {
      this.#rebuilding = undefined;
    });
    return this.#rebuilding;
  }

  async #catchUpOnce(): Promise<void> {
    const { metrics, logger } = this.#options;
    try {
      const feed = await readDefinitionChanges(this.#options.db, this.#revision);
      if (feed.resetRevision > this.#revision) {
        // A definition was deleted since: its row is gone, so only a full read can tell which.
        logger.info('a definition was deleted; rebuilding the definition index');
        await this.#rebuild();
      } else {
        await this.#apply(this.#matcher, feed.definitions);
        this.#revision = Math.max(this.#revision, feed.revision);
        metrics?.definitions.set(this.#matcher.size);
        metrics?.indexRevision.set(this.#revision);
      }
      metrics?.indexRead();
      metrics?.indexCatchUps.inc({ outcome: 'ok' });
    } catch (error) {
      metrics?.indexCatchUps.inc({ outcome: 'error' });
      logger.warn('cannot read the definition feed; matching waits', { error });
      throw error;
    }
  }

  async #rebuildAside(): Promise<void> {
    const { metrics, logger } = this.#options;
    try {
      // Read and build outside the lock: catch-ups and matching go on against the current matcher.
      const { matcher, revision } = await this.#build();
      await this.#exclusive(async () => {
        const since = await readDefinitionChanges(this.#options.db, revision);
        if (since.resetRevision > revision) {
          await this.#rebuild();
          return;
        }
        await this.#apply(matcher, since.definitions);
        this.#swap(matcher, Math.max(revision, since.revision));
      });
      metrics?.indexRefreshes.inc({ outcome: 'ok' });
    } catch (error) {
      metrics?.indexRefreshes.inc({ outcome: 'error' });
      logger.warn('definition index rebuild failed; the current index stays', { error });
      throw error;
    }
  }

  /** A full read and build, swapped in at once. Only under the lock. */
  async #rebuild(): Promise<void> {
    const { matcher, revision } = await this.#build();
    this.#swap(matcher, revision);
  }

  async #build(): Promise<{ matcher: DefinitionMatcher; revision: number }> {
    const feed = await readActiveEventDefinitions(this.#options.db);
    const matcher = this.#emptyMatcher();
    await this.#apply(matcher, feed.definitions);
    return { matcher, revision: feed.revision };
  }

  #emptyMatcher(): DefinitionMatcher {
    const limits = this.#options.expressionLimits;
    return createDefinitionMatcher([], limits ? { limits } : {});
  }

  #swap(matcher: DefinitionMatcher, revision: number): void {
    const { metrics, logger } = this.#options;
    this.#matcher = matcher;
    this.#revision = revision;
    metrics?.definitions.set(matcher.size);
    metrics?.indexRevision.set(revision);
    metrics?.indexRead();
    logger.debug('definition index built', { definitions: matcher.size, revision });
  }

  /** Applies definition rows to `matcher`, one definition at a time, yielding between chunks. */
  async #apply(matcher: DefinitionMatcher, rows: readonly DefinitionTriggerRow[]): Promise<void> {
    const { logger, metrics } = this.#options;
    const chunk = this.#options.chunkSize ?? 500;
    const upserted = new Set<string>();
    for (let i = 0; i < rows.length; i++) {
      if (i > 0 && i % chunk === 0) await yieldToEventLoop();
      const row = rows[i] as DefinitionTriggerRow;
      const definition = row.active ? toMatchable(row, logger) : undefined;
      if (definition) {
        matcher.upsert(definition);
        upserted.add(definition.id);
      } else {
        matcher.remove(row.id);
      }
    }
    metrics?.indexChanges.inc(rows.length);
    if (upserted.size === 0) return;
    for (const error of matcher.errors) {
      if (upserted.has(error.definitionId)) {
        logger.warn('definition filter does not compile; its events are parked as filter_error', { ...error });
      }
    }
  }

  /** Runs `fn` after everything queued before it, alone. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  #hint(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.catchUp(this.ticket()).catch(() => {});
    }, this.#options.debounceMs ?? 20);
  }

  async #listen(): Promise<void> {
    try {
      this.#listener = await listenForDefinitionChanges({
        url: this.#options.databaseUrl,
        onChange: () => this.#hint(),
        onError: (error) => {
          this.#options.logger.warn('definition LISTEN connection lost; reconnecting (matching still catches up)', {
            error,
          });
          void this.#listener?.close().catch(() => {});
          this.#retryListen(500);
        },
      });
    } catch (error) {
      this.#options.logger.warn('cannot LISTEN for definition changes; retrying', { error });
      this.#retryListen(1000);
    }
  }

  #retryListen(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#reconnect);
    this.#reconnect = setTimeout(() => {
      // Changes made while disconnected were not notified: read the feed once connected.
      void this.#listen().then(() => this.#hint());
    }, delayMs);
    this.#reconnect.unref();
  }
}

function toMatchable(row: DefinitionTriggerRow, logger: Logger): MatchableDefinition | undefined {
  const trigger = Trigger.safeParse(row.trigger);
  if (!trigger.success) {
    logger.warn('definition has an unreadable trigger; it will not match', { definitionId: row.id });
    return undefined;
  }
  if (trigger.data.kind !== 'event') return undefined;
  const { id, version, key, maxExpressionCost } = row;
  return {
    id,
    version,
    key,
    trigger: trigger.data.event,
    ...(maxExpressionCost !== undefined ? { maxExpressionCost } : {}),
  };
}
