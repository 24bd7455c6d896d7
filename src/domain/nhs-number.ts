/**
 * NHS number rules (NHS Data Dictionary, "NHS NUMBER"): ten digits, the tenth a modulus 11 check digit.
 * Pure: safe to import from workflows.
 */

/** Weights applied to the first nine digits, left to right. */
const WEIGHTS = [10, 9, 8, 7, 6, 5, 4, 3, 2] as const;

/** Removes the spaces and hyphens people and systems put inside NHS numbers (`999 526 0182`, `999-526-0182`). */
export function normaliseNhsNumber(s: string): string {
  return s.replace(/[\s-]+/g, '');
}

/**
 * The check digit the first nine digits call for: 11 - (weighted sum mod 11), 11 becoming 0.
 * Returns 10 when no check digit can make the number valid. `nine` must be nine ASCII digits.
 */
function expectedCheckDigit(nine: string): number {
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (nine.charCodeAt(i) - 48) * (WEIGHTS[i] ?? 0);
  const check = 11 - (sum % 11);
  return check === 11 ? 0 : check;
}

/**
 * Why `s` is not a usable NHS number, in words an operator understands; undefined when it is valid.
 * Spaces and hyphens are ignored. The number itself is never repeated in the reason (it may end up in logs).
 */
export function nhsNumberProblem(s: string): string | undefined {
  const n = normaliseNhsNumber(s);
  if (n === '') return 'NHS number is empty';
  if (!/^\d+$/.test(n)) return 'NHS number contains characters other than digits';
  if (n.length !== 10) return `NHS number has ${n.length} digits, expected 10`;
  const expected = expectedCheckDigit(n);
  if (expected === 10) return 'NHS number fails the modulus 11 check (no check digit is possible for these digits)';
  const actual = n.charCodeAt(9) - 48;
  if (actual !== expected) {
    return `NHS number fails the modulus 11 check (check digit is ${actual}, expected ${expected})`;
  }
  return undefined;
}

/** True when `s` (spaces and hyphens ignored) is ten digits whose last passes the modulus 11 check. */
export function isValidNhsNumber(s: string): boolean {
  return nhsNumberProblem(s) === undefined;
}
