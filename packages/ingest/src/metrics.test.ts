import { Registry } from 'prom-client';
import { describe, expect, test, vi } from 'vitest';
import { DEAD_LETTER_REASONS } from './dead-letter.ts';
import { createIngestMetrics } from './metrics.ts';

const sampleOf = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('ingest metrics', () => {
  test('dead letters and rejections start at 0 for every reason', async () => {
    const registry = new Registry();
    createIngestMetrics(registry);
    const text = await registry.metrics();
    expect(DEAD_LETTER_REASONS).toEqual(expect.arrayContaining(['invalid_json', 'max_deliveries', 'window_key']));
    for (const reason of DEAD_LETTER_REASONS) {
      expect(sampleOf(text, `ac_ingest_dead_letters_total{reason="${reason}"}`), reason).toBe(0);
      expect(sampleOf(text, `ac_ingest_rejected_total{reason="${reason}"}`), reason).toBe(0);
    }
  });

  test('the definition index age counts from its last successful read', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const registry = new Registry();
      const metrics = createIngestMetrics(registry);
      vi.setSystemTime(new Date('2026-12-02T10:00:00.000Z'));
      metrics.indexRead();
      vi.setSystemTime(new Date('2026-12-02T10:00:42.500Z'));
      expect(sampleOf(await registry.metrics(), 'ac_ingest_index_age_seconds')).toBe(42.5);
      metrics.indexRead();
      expect(sampleOf(await registry.metrics(), 'ac_ingest_index_age_seconds')).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
