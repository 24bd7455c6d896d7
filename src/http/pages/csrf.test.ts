import { describe, expect, it } from 'vitest';
import { CSRF_MAX_AGE_MS, issueCsrfToken, verifyCsrfToken } from './csrf.js';

const SECRET = 'a-secret-of-some-length';
const at = new Date('2026-11-22T09:00:00Z');

describe('CSRF tokens for the acknowledgement form', () => {
  it('a token issued for a link verifies for that link only, and only with the same secret', () => {
    const csrf = issueCsrfToken(SECRET, 'link-1', at);
    expect(verifyCsrfToken(SECRET, 'link-1', csrf, at)).toBe('ok');
    expect(verifyCsrfToken(SECRET, 'link-2', csrf, at)).toBe('invalid');
    expect(verifyCsrfToken('another-secret-entirely', 'link-1', csrf, at)).toBe('invalid');
  });

  it('a changed issued-at, a malformed value or no value at all is refused', () => {
    const [issuedAt, mac] = issueCsrfToken(SECRET, 'link-1', at).split('.');
    expect(verifyCsrfToken(SECRET, 'link-1', `${Number(issuedAt) + 60}.${mac}`, at)).toBe('invalid');
    expect(verifyCsrfToken(SECRET, 'link-1', 'nonsense', at)).toBe('invalid');
    expect(verifyCsrfToken(SECRET, 'link-1', '', at)).toBe('missing');
    expect(verifyCsrfToken(SECRET, 'link-1', undefined, at)).toBe('missing');
    expect(verifyCsrfToken(SECRET, 'link-1', ['a', 'b'], at)).toBe('missing');
  });

  it('a token is good for a day', () => {
    const csrf = issueCsrfToken(SECRET, 'link-1', at);
    expect(verifyCsrfToken(SECRET, 'link-1', csrf, new Date(at.getTime() + CSRF_MAX_AGE_MS))).toBe('ok');
    expect(verifyCsrfToken(SECRET, 'link-1', csrf, new Date(at.getTime() + CSRF_MAX_AGE_MS + 1000))).toBe('stale');
    expect(verifyCsrfToken(SECRET, 'link-1', csrf, new Date(at.getTime() - 60 * 60 * 1000))).toBe('stale');
  });
});
