/**
 * Reading the Prometheus text exposition format (version 0.0.4) as a scraper does: comment lines (`# HELP`,
 * `# TYPE`) give each family's type; every other line is one sample, `name{label="value",…} value [timestamp]`, label
 * values escaped with `\\`, `\"` and `\n`. Enough for tests to check what `/metrics` says; not a general parser.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** `# TYPE` of each family */
  types: Map<string, string>;
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      continue;
    }
    samples.push(parseSample(line, i + 1));
  }
  return { samples, types };
}

function parseSample(line: string, lineNumber: number): Sample {
  const bad = (why: string) => new Error(`line ${lineNumber} is no sample (${why}): ${line}`);
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (!name) throw bad('no metric name');
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at));
      if (!label) throw bad('bad label');
      at += label[0].length;
      let value = '';
      for (;;) {
        const c = line[at++];
        if (c === undefined) throw bad('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const e = line[at++];
          value += e === 'n' ? '\n' : (e ?? '');
        } else {
          value += c;
        }
      }
      labels[label[1]!] = value;
      if (line[at] === ',') at++;
      else if (line[at] !== '}') throw bad('expected , or }');
    }
    at++;
  }
  const rest = line.slice(at).trim().split(/\s+/);
  const raw = rest[0];
  if (raw === undefined || rest.length > 2) throw bad('expected a value and at most a timestamp');
  // as Prometheus reads them (Go's ParseFloat): Inf and NaN in any case
  const special: Record<string, number> = { '+inf': Infinity, inf: Infinity, '-inf': -Infinity, nan: NaN };
  const value = special[raw.toLowerCase()] ?? Number(raw);
  if (Number.isNaN(value) && raw.toLowerCase() !== 'nan') throw bad('value is no number');
  return { name, labels, value };
}

/** The samples named `name` whose labels include all of `labels`. */
export function samplesOf(e: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one sample named `name` with exactly these labels (besides none), or undefined. */
export function valueOf(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const keys = Object.keys(labels).sort().join(',');
  const found = samplesOf(e, name, labels).filter((s) => Object.keys(s.labels).sort().join(',') === keys);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Sum of the samples named `name` whose labels include `labels` (0 when there are none). */
export function sumOf(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  return samplesOf(e, name, labels).reduce((a, s) => a + s.value, 0);
}

/** Scrapes `url` (a `/metrics` address) and parses it; throws unless it answers 200 in the text format. */
export async function scrape(url: string): Promise<Exposition & { text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 200)}`);
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain')) throw new Error(`${url} answered ${type}`);
  return { ...parseExposition(text), text };
}
