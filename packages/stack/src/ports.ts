import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const FLOOR = 10_000;
const handedOut = new Set<number>();

/** The kernel's ephemeral range, from which listen(0) and outgoing connections take ports. */
function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high))
      return { low, high };
  } catch {
    // not Linux
  }
  return { low: 49_152, high: 65_535 };
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port for a server that binds it later, or binds it again after a restart.
 *
 * A port from listen(0) comes from the kernel's ephemeral range, and between the pick and the
 * server's bind (or while a server is down for a restart) any outgoing connection or
 * listen(0) anywhere on the machine can take it: with several suites running, that happens.
 * This one lies below that range, where only an explicit bind to the same number can
 * collide. Free when returned, and never the same twice in one process.
 */
export async function freePort(): Promise<number> {
  const { low, high } = ephemeralRange();
  // Below the range if there is room there, else above it.
  const [bottom, top] = low - FLOOR >= 1_000 ? [FLOOR, low] : [high + 1, 65_536];
  if (top - bottom < 1_000) throw new Error(`the ephemeral port range ${low}–${high} leaves no room for stable ports`);
  for (let pick = 0; pick < 200; pick++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free loopback port in ${bottom}–${top - 1} after 200 picks`);
}
