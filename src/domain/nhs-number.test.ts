import { describe, expect, it } from 'vitest';
import { isValidNhsNumber, nhsNumberProblem, normaliseNhsNumber } from './nhs-number.js';

describe('NHS number (modulus 11, NHS Data Dictionary)', () => {
  it.each(['9995260182', '9991590838', '9990166137'])('accepts the test-range number %s', (n) => {
    expect(isValidNhsNumber(n)).toBe(true);
    expect(nhsNumberProblem(n)).toBeUndefined();
  });

  it('rejects a wrong check digit and says the modulus 11 check failed', () => {
    expect(isValidNhsNumber('9995260183')).toBe(false);
    expect(nhsNumberProblem('9995260183')).toMatch(/modulus 11/);
  });

  it('rejects digits whose check digit would be 10 (no valid number exists)', () => {
    // a nine-digit prefix whose weighted sum leaves remainder 1 calls for check digit 11 - 1 = 10
    let prefix = '';
    for (let i = 0; i < 1000 && prefix === ''; i++) {
      const p = String(100000000 + i);
      const sum = [...p].reduce((acc, ch, k) => acc + Number(ch) * (10 - k), 0);
      if (sum % 11 === 1) prefix = p;
    }
    for (let d = 0; d <= 9; d++) {
      expect(isValidNhsNumber(prefix + String(d))).toBe(false);
      expect(nhsNumberProblem(prefix + String(d))).toMatch(/no check digit is possible/);
    }
  });

  it('ignores spaces and hyphens', () => {
    expect(normaliseNhsNumber(' 999 526 0182 ')).toBe('9995260182');
    expect(normaliseNhsNumber('999-526-0182')).toBe('9995260182');
    expect(isValidNhsNumber('999 526 0182')).toBe(true);
  });

  it('explains wrong length, letters and emptiness without repeating the number', () => {
    expect(nhsNumberProblem('999526018')).toBe('NHS number has 9 digits, expected 10');
    expect(nhsNumberProblem('99952601820')).toBe('NHS number has 11 digits, expected 10');
    expect(nhsNumberProblem('99952601X2')).toBe('NHS number contains characters other than digits');
    expect(nhsNumberProblem('')).toBe('NHS number is empty');
    expect(nhsNumberProblem('9995260183')).not.toContain('9995260183');
  });
});
