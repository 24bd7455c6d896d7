/**
 * The client list as CSV (CONTRACT.md "Registry": `POST /v1/providers/{id}/clients/import`, header
 * `nhs_number,date_of_birth,family_name,given_name,reference`), read by the API import and the portal's roster upload
 * alike, and written by the portal's roster download (the same header, so a download imports back unchanged).
 *
 * Besides the contract's column names, a header in plain words is recognised ("NHS Number", "Date of birth",
 * "Surname", "First name", ...), and dates may be written `dd/mm/yyyy` (UK order, as spreadsheets save them) or
 * `yyyy-mm-dd`.
 */
import { isValidNhsNumber, nhsNumberProblem, normaliseNhsNumber } from '../domain/nhs-number.js';

export const CSV_COLUMNS = ['nhs_number', 'date_of_birth', 'family_name', 'given_name', 'reference'] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

export interface CsvRow {
  line: number;
  nhsNumber: string;
  client: { dateOfBirth: string; familyName?: string; givenName?: string; reference?: string };
}

/** Header cells, as words (lower case, anything but letters and digits a space), naming each column. */
const HEADER_WORDS: Record<CsvColumn, readonly string[]> = {
  nhs_number: ['nhs number', 'nhs no', 'nhsnumber', 'nhs'],
  date_of_birth: ['date of birth', 'dob', 'birth date', 'birthdate', 'dateofbirth'],
  family_name: ['family name', 'surname', 'last name', 'lastname', 'familyname'],
  given_name: [
    'given name',
    'given names',
    'first name',
    'first names',
    'forename',
    'forenames',
    'firstname',
    'givenname',
  ],
  reference: ['reference', 'ref', 'client reference', 'client ref', 'your reference', 'reference number'],
};

/** The column a header cell names (`nhs_number`, "NHS Number", "NHS No." alike), or undefined when none. */
export function headerColumn(cell: string): CsvColumn | undefined {
  const words = cell
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
  return CSV_COLUMNS.find((c) => HEADER_WORDS[c].includes(words));
}

/**
 * A date of birth as written in the file, as `YYYY-MM-DD`: `dd/mm/yyyy` (also with `-` or `.`, one-digit day or
 * month allowed) is read day first, as in the UK; `yyyy-mm-dd` is kept. Undefined when it is neither (a two-digit
 * year included: 1941 or 2041 cannot be told apart). Whether the date exists is checked later (`clientDetails`).
 */
export function readDate(text: string): string | undefined {
  const s = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return s;
  const uk = /^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})$/.exec(s);
  if (!uk) return undefined;
  return `${uk[4]}-${uk[3]!.padStart(2, '0')}-${uk[1]!.padStart(2, '0')}`;
}

/**
 * Spreadsheets run a cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage return) as a formula; the roster
 * download puts a `'` before such text (OWASP "CSV injection"), and reading takes it away again, so a download imports
 * back unchanged.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

function unescapeFormula(text: string): string {
  return text.startsWith("'") && FORMULA_START.test(text.slice(1)) ? text.slice(1) : text;
}

function escapeField(value: string): string {
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Clients as a CSV file with the import header, CRLF line ends (RFC 4180), one client per line. */
export function clientsToCsv(
  clients: readonly {
    nhsNumber: string;
    dateOfBirth: string;
    familyName: string | null;
    givenName: string | null;
    reference: string | null;
  }[],
): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const c of clients) {
    lines.push(
      [c.nhsNumber, c.dateOfBirth, c.familyName ?? '', c.givenName ?? '', c.reference ?? ''].map(escapeField).join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
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

/** The header's columns by position; an error when a column is named twice or a required one is missing. */
function headerColumns(cells: string[] | undefined): Map<CsvColumn, number> | { error: string } {
  const wanted = `The first line must be the header ${CSV_COLUMNS.join(',')}`;
  if (!cells) return { error: wanted };
  const at = new Map<CsvColumn, number>();
  for (const [i, cell] of cells.entries()) {
    const column = headerColumn(cell);
    if (column === undefined) continue;
    const earlier = at.get(column);
    if (earlier !== undefined) {
      return { error: `The header names ${column} twice (columns ${earlier + 1} and ${i + 1}): keep one of them` };
    }
    at.set(column, i);
  }
  if (!at.has('nhs_number') || !at.has('date_of_birth')) return { error: wanted };
  return at;
}

/**
 * Reads a client list: each record's NHS number (modulus 11) and date of birth are checked, and a person listed
 * twice is refused the second time; each refusal names the record's first line as an editor shows it and a reason
 * that never repeats the NHS number. Columns may come in any order; unknown columns are ignored.
 */
export function parseClientCsv(
  text: string,
): { rows: CsvRow[]; rejected: { line: number; reason: string }[] } | { error: string } {
  const all = records(text.replace(/^\uFEFF/, ''));
  const header = headerColumns(all[0]?.fields);
  if ('error' in header) return header;
  const rows: CsvRow[] = [];
  const rejected: { line: number; reason: string }[] = [];
  const seen = new Map<string, number>();
  for (const rec of all.slice(1)) {
    const get = (name: CsvColumn) => {
      const i = header.get(name);
      const v = i !== undefined ? rec.fields[i]?.trim() : undefined;
      return v === '' || v === undefined ? undefined : unescapeFormula(v);
    };
    const nhs = normaliseNhsNumber(get('nhs_number') ?? '');
    if (!isValidNhsNumber(nhs)) {
      rejected.push({ line: rec.line, reason: `nhs_number: ${nhsNumberProblem(nhs) ?? 'not a valid NHS number'}` });
      continue;
    }
    const written = get('date_of_birth');
    if (!written) {
      rejected.push({ line: rec.line, reason: 'date_of_birth: required' });
      continue;
    }
    const earlier = seen.get(nhs);
    if (earlier !== undefined) {
      rejected.push({ line: rec.line, reason: `nhs_number: duplicate of line ${earlier}` });
      continue;
    }
    seen.set(nhs, rec.line);
    const dob = readDate(written);
    if (!dob) {
      rejected.push({
        line: rec.line,
        reason: 'date_of_birth: must be a date with a four-digit year, such as 12/03/1941 or 1941-03-12',
      });
      continue;
    }
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
