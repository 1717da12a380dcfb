/**
 * A sleep that `wake()` ends early, for a polling loop that can also be told there is work (or
 * to stop). A wake while nothing sleeps is kept: the next sleep returns at once. `clear()`
 * forgets such a wake, for a loop about to look for work anyway.
 */
export function wakeableSleep(): { sleep(ms: number): Promise<void>; wake(): void; clear(): void } {
  let wakeNow: (() => void) | undefined;
  let pending = false;
  return {
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        if (pending) {
          pending = false;
          resolve();
          return;
        }
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wakeNow = undefined;
          resolve();
        }
        wakeNow = done;
      }),
    wake() {
      if (wakeNow) wakeNow();
      else pending = true;
    },
    clear() {
      pending = false;
    },
  };
}
