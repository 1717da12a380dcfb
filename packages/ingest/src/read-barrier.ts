interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve: () => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Coalesces reads that must happen *after* a point in time: `ticket()` marks the point,
 * `after(ticket)` resolves once a `read` that started after that point has completed. Reads run
 * one at a time; every caller that took its ticket before a read started shares that read, and
 * callers that arrive while it runs share the next one. So however many callers there are, at
 * most one read runs and one waits.
 *
 * This is how ingest orders a NATS message after the definition writes it may depend on: the
 * ticket is taken when the message arrives, and the read is a database query (see
 * `DefinitionIndex`).
 */
export class ReadBarrier {
  readonly #read: () => Promise<void>;
  /** Number of the last read started, and of the last one that completed. */
  #started = 0;
  #completed = 0;
  #current: { readonly seq: number; readonly promise: Promise<void> } | undefined;
  #next: Deferred | undefined;

  constructor(read: () => Promise<void>) {
    this.#read = read;
  }

  /** A point in time: reads started from now on are after it. */
  ticket(): number {
    return this.#started;
  }

  /** Resolves once a read started after `ticket` has completed; rejects with that read's error. */
  after(ticket: number): Promise<void> {
    if (this.#completed > ticket) return Promise.resolve();
    if (this.#current && this.#current.seq > ticket) return this.#current.promise;
    this.#next ??= deferred();
    const next = this.#next;
    if (!this.#current) this.#startNext();
    return next.promise;
  }

  #startNext(): void {
    const waiting = this.#next;
    this.#next = undefined;
    if (!waiting) return;
    // Numbered before the read starts, so a caller arriving from now on waits for a later one.
    const seq = ++this.#started;
    const promise = Promise.resolve()
      .then(this.#read)
      .then(() => {
        this.#completed = Math.max(this.#completed, seq);
      });
    this.#current = { seq, promise };
    promise
      .then(waiting.resolve, waiting.reject)
      .finally(() => {
        this.#current = undefined;
        this.#startNext();
      })
      .catch(() => {});
  }
}
