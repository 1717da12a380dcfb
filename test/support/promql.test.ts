import { describe, expect, test } from 'vitest';
import { dashboardExpressions, metricNamesOf, ruleExpressions, servedNames } from './promql.ts';

describe('metric names in PromQL', () => {
  test('selectors, not functions, keywords, labels, strings, ranges or numbers', () => {
    expect(
      metricNamesOf(
        'histogram_quantile(0.95, sum by (le, status) (rate(ac_run_duration_seconds_bucket{status="failed|x_y"}[$__rate_interval])))',
      ),
    ).toEqual(['ac_run_duration_seconds_bucket']);
    expect(
      metricNamesOf(
        'sum(increase(a_total[15m] offset 1h)) > 0 and on (job) sum(rate(b_total[5m])) / clamp_min(sum(c), 1e-9) > bool 0.05 unless d',
      ).sort(),
    ).toEqual(['a_total', 'b_total', 'c', 'd']);
    expect(metricNamesOf('max(ac_outbox_pending)')).toEqual(['ac_outbox_pending']);
  });

  test('every expr of a dashboard (rows included) and of a rule file', () => {
    const dashboard = {
      panels: [{ targets: [{ expr: 'x' }] }, { type: 'row', panels: [{ targets: [{ expr: 'y' }, { refId: 'B' }] }] }],
    };
    expect(dashboardExpressions(dashboard)).toEqual(['x', 'y']);
    expect(
      ruleExpressions({
        groups: [
          {
            rules: [
              { alert: 'A', expr: 'z > 1' },
              { record: 'r', expr: 'w' },
            ],
          },
        ],
      }),
    ).toEqual(['z > 1', 'w']);
  });

  test('a scrape serves families and their sample names, not help text', () => {
    const names = servedNames(
      [
        '# HELP h_seconds mentions other_metric',
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{le="1"} 1',
        'h_seconds_count 1',
        '# TYPE g gauge',
        'g{a="b"} 2',
        '',
      ].join('\n'),
    );
    expect([...names].sort()).toEqual(['g', 'h_seconds', 'h_seconds_bucket', 'h_seconds_count']);
  });
});
