/** A client list checked before anything is saved (the API import and the portal's roster preview). */
import { describe, expect, it } from 'vitest';
import { checkClientList } from './clients.js';

describe('checkClientList', () => {
  it('accepts the rows that meet the registration rules and lists every refused line with its reason, by line', () => {
    const r = checkClientList(
      [
        'NHS Number,Date of birth,Surname,First name,Reference',
        '9995260182,12/03/1941,SMITH,MARGARET,C-1',
        '9995260183,12/03/1941,BAD,CHECK,', // modulus 11
        '9991590838,31/02/1950,,,', // no such date
        '9434765919,01/01/2999,,,', // in the future
        `9449304106,1950-01-02,${'x'.repeat(101)},,`, // name too long
        '9449305552,1950-01-02,,,',
      ].join('\n'),
    );
    expect(r).toEqual({
      accepted: [
        {
          line: 2,
          nhsNumber: '9995260182',
          details: { dateOfBirth: '1941-03-12', familyName: 'SMITH', givenName: 'MARGARET', reference: 'C-1' },
        },
        { line: 7, nhsNumber: '9449305552', details: { dateOfBirth: '1950-01-02' } },
      ],
      rejected: [
        { line: 3, reason: expect.stringMatching(/^nhs_number: .*modulus 11/) },
        { line: 4, reason: 'date_of_birth: must be a real date, not in the future' },
        { line: 5, reason: 'date_of_birth: must be a real date, not in the future' },
        { line: 6, reason: 'family_name: String must contain at most 100 character(s)' },
      ],
    });
  });

  it('a file without a usable header is an error, not a list', () => {
    expect(checkClientList('Name,Address\nSMITH,1 High Street\n')).toEqual({
      error: 'The first line must be the header nhs_number,date_of_birth,family_name,given_name,reference',
    });
  });
});
