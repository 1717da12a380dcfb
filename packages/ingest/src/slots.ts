/** A counting semaphore: at most `size` holders; `idle()` resolves when none is left. */
export class Slots {
  readonly size: number;
  #active = 0;
  #waiting: Array<() => void> = [];
  #idle: Array<() => void> = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`slots must be a positive integer, got ${size}`);
    this.size = size;
  }

  get active(): number {
    return this.#active;
  }

  acquire(): Promise<void> {
    if (this.#active < this.size) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) {
      next();
      return;
    }
    this.#active--;
    if (this.#active === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
