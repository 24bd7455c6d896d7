/** The client import CSV (CONTRACT.md "Registry"): RFC 4180 records, reported by the line a provider sees in its file. */
import { describe, expect, it } from 'vitest';
import { parseClientCsv } from './client-csv.js';

const HEADER = 'nhs_number,date_of_birth,family_name,given_name,reference';

function parsed(text: string) {
  const r = parseClientCsv(text);
  if ('error' in r) throw new Error(r.error);
  return r;
}

describe('parseClientCsv', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, numbering rows by their first line', () => {
    const text = [
      HEADER,
      '9995260182,1941-03-12,SMITH,MARGARET,CLIENT-42',
      '"999 159 0838","1950-01-02","O\'BRIEN, JONES","Mary ""Molly""","ref with',
      'a line break"',
      '9434765919,1960-05-06,,,',
    ].join('\r\n');
    const r = parsed(text);
    expect(r.rejected).toEqual([]);
    expect(r.rows).toEqual([
      {
        line: 2,
        nhsNumber: '9995260182',
        client: { dateOfBirth: '1941-03-12', familyName: 'SMITH', givenName: 'MARGARET', reference: 'CLIENT-42' },
      },
      {
        line: 3,
        nhsNumber: '9991590838',
        client: {
          dateOfBirth: '1950-01-02',
          familyName: "O'BRIEN, JONES",
          givenName: 'Mary "Molly"',
          reference: 'ref with\r\na line break',
        },
      },
      { line: 5, nhsNumber: '9434765919', client: { dateOfBirth: '1960-05-06' } },
    ]);
  });

  it('reads LF, CRLF and CR line ends alike, skips blank lines and a byte order mark, and counts lines as an editor does', () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const text = `\uFEFF${HEADER}${eol}${eol}9995260182,1941-03-12${eol}  ${eol}9991590838,1950-01-02${eol}`;
      const r = parsed(text);
      expect(r.rows.map((x) => [x.line, x.nhsNumber])).toEqual([
        [3, '9995260182'],
        [5, '9991590838'],
      ]);
      const quoted = parsed(`${HEADER}${eol}9995260182,1941-03-12,,,"two${eol}lines"${eol}9991590838,1950-01-02`);
      expect(quoted.rows.map((x) => x.line)).toEqual([2, 4]);
    }
  });

  it('accepts the columns in any order, in any case, with only the required two', () => {
    const r = parsed('Date_Of_Birth , NHS_NUMBER\n1941-03-12,9995260182\n');
    expect(r.rows).toEqual([{ line: 2, nhsNumber: '9995260182', client: { dateOfBirth: '1941-03-12' } }]);
  });

  it('rejects bad NHS numbers, a missing date of birth and a repeated person, each with its line and reason', () => {
    const text = [
      HEADER,
      '9995260183,1941-03-12,,,', // fails modulus 11
      '999526018,1941-03-12,,,', // 9 digits
      '99952601AB,1941-03-12,,,', // letters
      ',1941-03-12,,,', // empty
      '9995260182,,SMITH,,', // no date of birth
      '9995260182,1941-03-12,SMITH,,',
      '999 526 0182,1941-03-12,SMITH,,', // the same person again
    ].join('\n');
    const r = parsed(text);
    expect(r.rows.map((x) => x.line)).toEqual([7]);
    expect(r.rejected.map((x) => x.line)).toEqual([2, 3, 4, 5, 6, 8]);
    const reasons = r.rejected.map((x) => x.reason);
    expect(reasons[0]).toMatch(/^nhs_number: .*modulus 11/);
    expect(reasons[1]).toMatch(/^nhs_number: .*9 digits, expected 10/);
    expect(reasons[2]).toMatch(/^nhs_number: .*other than digits/);
    expect(reasons[3]).toMatch(/^nhs_number: .*empty/);
    expect(reasons[4]).toBe('date_of_birth: required');
    expect(reasons[5]).toBe('nhs_number: duplicate of line 7');
    // reasons never repeat the NHS number (they are shown and may be logged)
    for (const reason of reasons) expect(reason).not.toMatch(/\d{9,}/);
  });

  it('refuses a file whose first line is not the header', () => {
    expect(parseClientCsv('9995260182,1941-03-12\n')).toEqual({
      error: `The first line must be the header ${HEADER}`,
    });
    expect(parseClientCsv('')).toHaveProperty('error');
    expect(parseClientCsv('nhs_number,family_name\n9995260182,SMITH\n')).toHaveProperty('error');
  });

  it('a header alone imports nothing', () => {
    expect(parsed(`${HEADER}\r\n`)).toEqual({ rows: [], rejected: [] });
  });
});
