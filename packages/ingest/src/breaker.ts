/** The longest wait between two health probes while paused. */
export const MAX_PROBE_INTERVAL_MS = 5000;

export interface PauseBreakerOptions {
  /** Resolves when every dependency answers (Temporal, a fresh definition index); throws otherwise. */
  readonly probe: () => Promise<void>;
  /** First wait between probes; doubles per failed probe up to {@link MAX_PROBE_INTERVAL_MS}. Default 250. */
  readonly probeIntervalMs?: number;
  /** Waits `ms`; the consume loop's interruptible sleep, so a stop does not wait out a probe interval. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Runs once per pause (metrics, log, stopping the pull). */
  readonly onPause: (reason: string) => void;
  /** Runs once when a probe succeeded and consumption resumes. */
  readonly onResume: () => void;
}

/**
 * The pause/probe breaker of the consume loop: closed while the dependencies answer; opened
 * (paused) by the first failure that means they do not, after which the loop pulls nothing
 * and probes with a growing interval until one probe succeeds.
 */
export class PauseBreaker {
  readonly #options: PauseBreakerOptions;
  #paused = false;

  constructor(options: PauseBreakerOptions) {
    this.#options = options;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Opens the breaker; `onPause` runs only when it was closed. */
  pause(reason: string): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#options.onPause(reason);
  }

  /**
   * Returns at once when closed; otherwise probes (after a wait that doubles per failure) until
   * a probe succeeds, then closes. Returns early, still paused, once `stopping()` is true.
   */
  async waitUntilClosed(stopping: () => boolean): Promise<void> {
    let delay = this.#options.probeIntervalMs ?? 250;
    while (this.#paused && !stopping()) {
      await this.#options.sleep(delay);
      if (stopping()) return;
      try {
        await this.#options.probe();
        this.#paused = false;
        this.#options.onResume();
      } catch {
        delay = Math.min(delay * 2, MAX_PROBE_INTERVAL_MS);
      }
    }
  }
}
