/** The client import CSV (CONTRACT.md "Registry"): RFC 4180 records, reported by the line a provider sees in its file. */
import { describe, expect, it } from 'vitest';
import { clientsToCsv, headerColumn, parseClientCsv, readDate } from './client-csv.js';

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

  it('recognises a header in plain words, as spreadsheets title their columns', () => {
    const r = parsed(
      [
        'Surname,First name,NHS Number,Date of birth,Reference,Notes',
        'SMITH,MARGARET,999 526 0182,12/03/1941,CLIENT-42,ignored',
      ].join('\n'),
    );
    expect(r).toEqual({
      rows: [
        {
          line: 2,
          nhsNumber: '9995260182',
          client: { dateOfBirth: '1941-03-12', familyName: 'SMITH', givenName: 'MARGARET', reference: 'CLIENT-42' },
        },
      ],
      rejected: [],
    });
    expect(
      [
        'NHS No.',
        'nhs_number',
        'NHSNumber',
        'DOB',
        'Date Of Birth',
        'date_of_birth',
        'Family name',
        'Last name',
        'Given name',
        'Forename',
        'Client reference',
        'Notes',
      ].map(headerColumn),
    ).toEqual([
      'nhs_number',
      'nhs_number',
      'nhs_number',
      'date_of_birth',
      'date_of_birth',
      'date_of_birth',
      'family_name',
      'family_name',
      'given_name',
      'given_name',
      'reference',
      undefined,
    ]);
  });

  it('refuses a header that names one column twice, saying which columns', () => {
    expect(parseClientCsv('NHS Number,Date of birth,DOB\n9995260182,12/03/1941,1941-03-12\n')).toEqual({
      error: 'The header names date_of_birth twice (columns 2 and 3): keep one of them',
    });
  });

  it('reads dates written dd/mm/yyyy (day first, as in the UK) and yyyy-mm-dd; refuses two-digit years', () => {
    expect(readDate('12/03/1941')).toBe('1941-03-12');
    expect(readDate('1/3/1941')).toBe('1941-03-01');
    expect(readDate('12-03-1941')).toBe('1941-03-12');
    expect(readDate('12.03.1941')).toBe('1941-03-12');
    expect(readDate(' 1941-03-12 ')).toBe('1941-03-12');
    expect(readDate('12/03/41')).toBeUndefined();
    expect(readDate('12/03-1941')).toBeUndefined();
    expect(readDate('March 1941')).toBeUndefined();
    const r = parsed(`${HEADER}\n9995260182,12/03/41,,,\n9991590838,31/12/1950,,,\n`);
    expect(r.rows).toEqual([{ line: 3, nhsNumber: '9991590838', client: { dateOfBirth: '1950-12-31' } }]);
    expect(r.rejected).toEqual([
      { line: 2, reason: 'date_of_birth: must be a date with a four-digit year, such as 12/03/1941 or 1941-03-12' },
    ]);
  });

  it('a person listed twice is refused the second time even when the first line has a bad date', () => {
    const r = parsed(`${HEADER}\n9995260182,12/03/41,,,\n9995260182,12/03/1941,,,\n`);
    expect(r.rows).toEqual([]);
    expect(r.rejected.map((x) => x.reason)).toEqual([
      'date_of_birth: must be a date with a four-digit year, such as 12/03/1941 or 1941-03-12',
      'nhs_number: duplicate of line 2',
    ]);
  });
});

describe('clientsToCsv', () => {
  const clients = [
    {
      nhsNumber: '9995260182',
      dateOfBirth: '1941-03-12',
      familyName: "O'BRIEN, SMITH",
      givenName: 'Mary "Molly"',
      reference: 'two\r\nlines',
    },
    { nhsNumber: '9991590838', dateOfBirth: '1950-01-02', familyName: null, givenName: null, reference: null },
    {
      nhsNumber: '9434765919',
      dateOfBirth: '1960-05-06',
      familyName: '=HYPERLINK("x")',
      givenName: '-1',
      reference: '@ref',
    },
  ];

  it('writes the import header and one quoted-where-needed line per client, CRLF', () => {
    expect(clientsToCsv(clients)).toBe(
      [
        HEADER,
        '9995260182,1941-03-12,"O\'BRIEN, SMITH","Mary ""Molly""","two\r\nlines"',
        '9991590838,1950-01-02,,,',
        '9434765919,1960-05-06,"\'=HYPERLINK(""x"")",\'-1,\'@ref',
        '',
      ].join('\r\n'),
    );
    expect(clientsToCsv([])).toBe(`${HEADER}\r\n`);
  });

  it('a downloaded list imports back unchanged (text a spreadsheet would run as a formula included)', () => {
    const r = parsed(clientsToCsv(clients));
    expect(r.rejected).toEqual([]);
    expect(
      r.rows.map((x) => ({
        nhsNumber: x.nhsNumber,
        dateOfBirth: x.client.dateOfBirth,
        familyName: x.client.familyName ?? null,
        givenName: x.client.givenName ?? null,
        reference: x.client.reference ?? null,
      })),
    ).toEqual(clients);
  });
});
