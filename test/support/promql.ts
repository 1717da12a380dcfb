// Metric names used by the PromQL of ops/ (the Grafana dashboard and the Prometheus alert
// rules), and the series a Prometheus text scrape serves, so a test can check one against the
// other: deleting or renaming a metric the dashboard or an alert uses fails it.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** PromQL words that look like metric names but are not (operators, modifiers, grouping). */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers outside strings, label matchers,
 * range brackets and grouping label lists that are not function calls or keywords.
 */
export function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/\boffset\s+-?\w+/gi, ' ')
    .replace(/\$\w+/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const at = m.index ?? 0;
    // The exponent of a number (1e-9), not a name.
    if (at > 0 && /[0-9.]/.test(bare[at - 1] as string)) continue;
    if (
      bare
        .slice(at + m[0].length)
        .trimStart()
        .startsWith('(')
    )
      continue;
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Every `expr` of a Grafana dashboard's panels (rows' nested panels included). */
export function dashboardExpressions(dashboard: unknown): string[] {
  const out: string[] = [];
  const visit = (panels: unknown): void => {
    if (!Array.isArray(panels)) return;
    for (const panel of panels as Array<{ targets?: Array<{ expr?: unknown }>; panels?: unknown }>) {
      for (const target of panel.targets ?? []) if (typeof target.expr === 'string') out.push(target.expr);
      visit(panel.panels);
    }
  };
  visit((dashboard as { panels?: unknown }).panels);
  return out;
}

/** Every `expr` of a Prometheus rule file (alerting and recording rules). */
export function ruleExpressions(rules: unknown): string[] {
  const groups = (rules as { groups?: Array<{ rules?: Array<{ expr?: unknown }> }> }).groups ?? [];
  return groups.flatMap((g) => (g.rules ?? []).flatMap((r) => (typeof r.expr === 'string' ? [r.expr] : [])));
}

/** The PromQL of the committed ops/ files, by file. */
export function opsExpressions(root: URL): Record<string, string[]> {
  const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
  return {
    'ops/grafana/activity-core.json': dashboardExpressions(JSON.parse(read('ops/grafana/activity-core.json'))),
    'ops/prometheus/alerts.yml': ruleExpressions(parse(read('ops/prometheus/alerts.yml'))),
  };
}

/**
 * The names a Prometheus text scrape serves samples under: each sample's name (so a histogram
 * gives `…_bucket`, `…_sum`, `…_count`) and each family's own name from its `# TYPE` line.
 */
export function servedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) names.add(type[1] as string);
    else if (line !== '' && !line.startsWith('#')) names.add(/^[^{ ]+/.exec(line)?.[0] as string);
  }
  return names;
}
