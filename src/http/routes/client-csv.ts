/** The client import CSV (CONTRACT.md): header `nhs_number,date_of_birth,family_name,given_name,reference`. */
import { isValidNhsNumber, nhsNumberProblem, normaliseNhsNumber } from '../../domain/nhs-number.js';

export const CSV_COLUMNS = ['nhs_number', 'date_of_birth', 'family_name', 'given_name', 'reference'] as const;

export interface CsvRow {
  line: number;
  nhsNumber: string;
  client: { dateOfBirth: string; familyName?: string; givenName?: string; reference?: string };
}

/** RFC 4180 fields: quotes, doubled quotes, commas and newlines inside quotes. */
function records(text: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++;
        field += c;
      }
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      out.push({ line: start, fields });
      fields = [];
      field = '';
      line++;
      start = line;
    } else field += c;
  }
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    out.push({ line: start, fields });
  }
  return out.filter((r) => !(r.fields.length === 1 && r.fields[0]!.trim() === ''));
}

export function parseClientCsv(
  text: string,
): { rows: CsvRow[]; rejected: { line: number; reason: string }[] } | { error: string } {
  const all = records(text.replace(/^\uFEFF/, ''));
  const header = all[0]?.fields.map((h) => h.trim().toLowerCase());
  if (
    !header ||
    (CSV_COLUMNS.some((c) => !header.includes(c)) &&
      !(header.includes('nhs_number') && header.includes('date_of_birth')))
  ) {
    return { error: `The first line must be the header ${CSV_COLUMNS.join(',')}` };
  }
  const col = (name: string) => header.indexOf(name);
  const rows: CsvRow[] = [];
  const rejected: { line: number; reason: string }[] = [];
  const seen = new Map<string, number>();
  for (const rec of all.slice(1)) {
    const get = (name: string) => {
      const i = col(name);
      const v = i >= 0 ? rec.fields[i]?.trim() : undefined;
      return v === '' ? undefined : v;
    };
    const nhs = normaliseNhsNumber(get('nhs_number') ?? '');
    if (!isValidNhsNumber(nhs)) {
      rejected.push({ line: rec.line, reason: `nhs_number: ${nhsNumberProblem(nhs) ?? 'not a valid NHS number'}` });
      continue;
    }
    const dob = get('date_of_birth');
    if (!dob) {
      rejected.push({ line: rec.line, reason: 'date_of_birth: required' });
      continue;
    }
    const earlier = seen.get(nhs);
    if (earlier !== undefined) {
      rejected.push({ line: rec.line, reason: `nhs_number: duplicate of line ${earlier}` });
      continue;
    }
    seen.set(nhs, rec.line);
    const client: CsvRow['client'] = { dateOfBirth: dob };
    const fam = get('family_name');
    const giv = get('given_name');
    const ref = get('reference');
    if (fam) client.familyName = fam;
    if (giv) client.givenName = giv;
    if (ref) client.reference = ref;
    rows.push({ line: rec.line, nhsNumber: nhs, client });
  }
  return { rows, rejected };
}
