import { describe, expect, it } from 'vitest';
import { csvField, toCsv } from './csv.js';

describe('toCsv', () => {
  it('quotes fields with commas, quotes and line breaks (RFC 4180), ends records with CRLF', () => {
    expect(
      toCsv([
        ['metric', 'dimension', 'value'],
        ['provider', 'name', 'Care, "Home"\nLtd'],
        ['n', null, 3],
      ]),
    ).toBe('metric,dimension,value\r\nprovider,name,"Care, ""Home""\nLtd"\r\nn,,3\r\n');
  });

  it('defuses text a spreadsheet would run as a formula, not numbers', () => {
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('-1')).toBe("'-1");
    expect(csvField(-1)).toBe('-1');
  });
});
