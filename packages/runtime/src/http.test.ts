import { Counter, Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { startOpsServer } from './http.ts';

describe('ops server /metrics', () => {
  test('serves the registry, then the text of moreMetrics read at each scrape', async () => {
    const registry = new Registry();
    new Counter({ name: 'ac_test_total', help: 'test', registers: [registry] }).inc();
    let reads = 0;
    const ops = await startOpsServer({
      port: 0,
      metrics: registry,
      moreMetrics: async () => {
        reads++;
        return `# TYPE temporal_thing gauge\ntemporal_thing ${reads}\n`;
      },
    });
    try {
      const scrape = () => fetch(`http://127.0.0.1:${ops.port}/metrics`).then((r) => r.text());
      const first = await scrape();
      expect(first).toContain('ac_test_total 1\n');
      expect(first.endsWith('# TYPE temporal_thing gauge\ntemporal_thing 1\n')).toBe(true);
      expect(await scrape()).toContain('temporal_thing 2\n');
    } finally {
      await ops.close();
    }
  });
});
