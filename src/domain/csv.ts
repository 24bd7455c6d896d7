/**
 * Writing CSV (RFC 4180): fields with a comma, a double quote, CR or LF are quoted, quotes doubled; records end with
 * CRLF. A text field that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) is
 * prefixed with `'` (OWASP "CSV injection"); numbers are written as they are.
 */
export type CsvValue = string | number | null;

const FORMULA = /^[=+\-@\t\r]/;

/** One field, quoted when it must be; null is an empty field. */
export function csvField(value: CsvValue): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = FORMULA.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Records (the first usually the header) as CSV text, each ending with CRLF. */
export function toCsv(records: readonly (readonly CsvValue[])[]): string {
  return records.map((r) => `${r.map(csvField).join(',')}\r\n`).join('');
}
