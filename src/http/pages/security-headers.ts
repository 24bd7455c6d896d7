import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';

/** Frutiger is not in nhsuk-frontend: its CSS loads it from here (falling back to Arial when blocked). */
const NHS_FONTS_ORIGIN = 'https://assets.nhs.uk';

/**
 * Headers of every page for people (the acknowledgement pages, the portal): `no-store`, `noindex`, `no-referrer`,
 * unframeable, and a Content-Security-Policy whose scripts need this response's nonce (`res.locals.cspNonce`).
 */
export function pageSecurityHeaders(): RequestHandler {
  return (_req, res, next) => {
    const nonce = randomBytes(16).toString('base64');
    res.locals['cspNonce'] = nonce;
    res.set({
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'X-Robots-Tag': 'noindex, nofollow',
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Content-Security-Policy': [
        "default-src 'none'",
        `script-src 'self' 'nonce-${nonce}'`,
        "style-src 'self'",
        "img-src 'self'",
        `font-src 'self' ${NHS_FONTS_ORIGIN}`,
        "manifest-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ].join('; '),
    });
    next();
  };
}
