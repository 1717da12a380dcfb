import { Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { createLogger } from './logger.ts';
import { registerScrapedGauges } from './metrics.ts';

const quiet = createLogger({ level: 'error', write: () => undefined, secrets: [] });
const sampleOf = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

describe('registerScrapedGauges', () => {
  test('one read per scrape serves every gauge; a failed read keeps the last values and /metrics still answers', async () => {
    const registry = new Registry();
    let reads = 0;
    let fail = false;
    registerScrapedGauges({
      registry,
      logger: quiet,
      what: 'figures',
      read: async () => {
        reads++;
        if (fail) throw new Error('down');
        return { a: 3, b: 4 };
      },
      gauges: {
        test_a: { help: 'a', value: (f) => f.a },
        test_b: { help: 'b', value: (f) => f.b * 10 },
      },
    });
    const first = await registry.metrics();
    expect(sampleOf(first, 'test_a')).toBe(3);
    expect(sampleOf(first, 'test_b')).toBe(40);
    expect(reads).toBe(1);
    fail = true;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await registry.metrics();
    expect(reads).toBe(2);
    expect(sampleOf(second, 'test_a')).toBe(3);
    expect(sampleOf(second, 'test_b')).toBe(40);
  });
});
