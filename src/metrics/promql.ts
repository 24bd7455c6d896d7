/**
 * The metric names a PromQL expression reads, for checking the Grafana dashboard (deploy/grafana) against what the
 * service exposes. Enough PromQL for dashboards (selectors, functions, aggregations with `by`/`without`, binary
 * operators with `on`/`ignoring`/`group_*`, ranges, offsets, Grafana's `$__…` variables); not a full parser.
 */

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/** Every metric name in `expr`, once each, in order of appearance. */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\{?__?\w+\}?/g, ' ') // Grafana variables
    .replace(/\boffset\s+-?\d+\w*/g, ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = m[0];
    const at = m.index + name.length;
    if (/^\s*\(/.test(stripped.slice(at))) continue; // a function or aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (/\d/.test(stripped[m.index - 1] ?? '')) continue; // the exponent or unit of a number (1e3, 5m)
    if (!names.includes(name)) names.push(name);
  }
  return names;
}
