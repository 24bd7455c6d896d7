import { createHmac, timingSafeEqual } from 'node:crypto';

/** Name of the hidden form field that carries the CSRF token. */
export const CSRF_FIELD = 'csrf';

/** How long a rendered form may be submitted. Longer than anyone keeps a page open; shorter than the link's 72 h. */
export const CSRF_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Clock skew tolerated for an issued-at in the future (several API processes behind one balancer). */
const FUTURE_SKEW_MS = 5 * 60 * 1000;

export type CsrfCheck = 'ok' | 'missing' | 'invalid' | 'stale';

function mac(secret: string, token: string, issuedAtS: string): Buffer {
  // Domain-separated so this key cannot be misused to forge other HMACs made with the same secret.
  return createHmac('sha256', secret).update(`ack-page-csrf\u0000${token}\u0000${issuedAtS}`).digest();
}

/**
 * A stateless CSRF token for the acknowledgement form of one link token: `<issued-at seconds>.<base64url
 * HMAC-SHA256(secret, token + issued-at)>`. No cookie is needed: the link token in the URL is the credential, and
 * this proves the POST comes from a form this service rendered for that token (OWASP CSRF cheat sheet, "signed
 * double-submit").
 */
export function issueCsrfToken(secret: string, token: string, now: Date): string {
  const issuedAtS = Math.floor(now.getTime() / 1000).toString(10);
  return `${issuedAtS}.${mac(secret, token, issuedAtS).toString('base64url')}`;
}

/** Checks a submitted CSRF field against the link token, in constant time. */
export function verifyCsrfToken(secret: string, token: string, submitted: unknown, now: Date): CsrfCheck {
  if (typeof submitted !== 'string' || submitted === '') return 'missing';
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(submitted);
  if (!match) return 'invalid';
  const issuedAtS = match[1] ?? '';
  const given = Buffer.from(match[2] ?? '', 'base64url');
  const expected = mac(secret, token, issuedAtS);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
  const age = now.getTime() - Number(issuedAtS) * 1000;
  if (age > CSRF_MAX_AGE_MS || age < -FUTURE_SKEW_MS) return 'stale';
  return 'ok';
}
