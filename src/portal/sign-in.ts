/**
 * Signing in to the portal (CONTRACT.md "Web portal"): an email address, then a 6-digit code sent to it by email
 * through GOV.UK Notify (valid 10 minutes, 5 tries); outside production, without Notify, the code is written to the
 * log instead. An address that is nobody's gets exactly the same pages (nothing tells whether it is known).
 */
import { randomInt } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import * as rateLimits from '../db/rate-limits.js';
import * as signInCodes from '../db/sign-in-codes.js';
import * as users from '../db/users.js';
import { sha256Hex } from '../hash.js';
import type { PortalDeps } from './app.js';
import { redirectAfterSave, SESSION_COOKIE, SIGNED_IN_COOKIE } from './session.js';
import { NAVIGATION, render } from './view.js';

/** How long a code is valid, and how many tries it allows (CONTRACT.md "Web portal"). */
export const CODE_VALID_MS = 10 * 60 * 1000;
export const CODE_MAX_TRIES = 5;

/**
 * Sign-in rate limits, in PostgreSQL (`rate_limits`, shared by every API process), per fixed window of 15 minutes:
 * codes asked for one address, and requests (for codes and with codes) from one IP address.
 */
export const SIGN_IN_LIMITS = { windowMs: 15 * 60 * 1000, codesPerEmail: 5, requestsPerIp: 50 } as const;

const EMAIL = z.string().trim().max(254).email();

/** How a code is stored: hashed with the user's id, so equal codes of two users differ. */
const codeHash = (userId: string, code: string) => sha256Hex(`${userId}:${code}`);

export function createSignInPages(deps: PortalDeps): Router {
  const { db, logger } = deps;
  const r = Router();

  /** Counts a hit on each key; on the first over its limit, a 429 page (with `Retry-After`) and false. */
  async function withinLimits(res: Response, keys: { key: string; max: number }[]): Promise<boolean> {
    for (const { key, max } of keys) {
      const { hits, retryAfterS } = await rateLimits.hit(db, key, SIGN_IN_LIMITS.windowMs);
      if (hits > max) {
        const minutes = Math.ceil(retryAfterS / 60);
        res.set('Retry-After', String(retryAfterS)).status(429);
        render(res, 'message.njk', {
          title: 'Too many attempts',
          heading: 'Sorry, there have been too many attempts to sign in',
          paragraphs: [`Wait ${minutes === 1 ? '1 minute' : `${minutes} minutes`} and try again.`],
        });
        return false;
      }
    }
    return true;
  }
  const ipKey = (req: Request) => ({
    key: `portal-sign-in-ip:${req.ip ?? 'unknown'}`,
    max: SIGN_IN_LIMITS.requestsPerIp,
  });

  /** Sends the code (or, outside production without Notify, logs it). Never throws; never delays the page. */
  function sendCode(email: string, code: string, reference: string): void {
    const logInstead = (why: string) => {
      if (deps.config.production) {
        logger.error({ reference, why }, 'cannot send a portal sign-in code');
      } else {
        logger.warn({ email, signInCode: code, why }, 'portal sign-in code (written here instead of emailed)');
      }
    };
    deps.notify
      .sendSignInEmail(email, { code, minutes: String(CODE_VALID_MS / 60_000) }, reference)
      .then((outcome) => {
        if (outcome.status !== 'sent') logInstead(outcome.reason);
      })
      .catch((err: unknown) => logInstead((err as Error).message));
  }

  r.get('/sign-in', (req, res) => {
    if (req.portalUser) return res.redirect(303, '/portal');
    // a visitor whose session ended while idle is told why (once)
    const ended = req.session.ended === true;
    delete req.session.ended;
    render(res, 'sign-in.njk', { title: 'Sign in', ended, email: '' });
  });

  r.post('/sign-in', async (req, res) => {
    const raw = (req.body as Record<string, unknown> | undefined)?.['email'];
    const given = typeof raw === 'string' ? raw.trim() : '';
    const problem =
      given === ''
        ? 'Enter your email address'
        : EMAIL.safeParse(given).success
          ? undefined
          : 'Enter an email address in the correct format, like name@example.com';
    if (problem) {
      res.status(400);
      return render(res, 'sign-in.njk', {
        title: 'Sign in',
        email: given,
        errors: [{ text: problem, href: '#email' }],
        hasError: true,
      });
    }
    const email = given.toLowerCase();
    const limited = [
      ipKey(req),
      { key: `portal-sign-in-email:${sha256Hex(email)}`, max: SIGN_IN_LIMITS.codesPerEmail },
    ];
    if (!(await withinLimits(res, limited))) return;
    const user = await users.byEmail(db, email);
    if (user) {
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const id = await signInCodes.issue(db, {
        userId: user.id,
        codeHash: codeHash(user.id, code),
        validSeconds: CODE_VALID_MS / 1000,
      });
      sendCode(user.email, code, `sign-in-${id}`);
    }
    req.session.signIn = { email, startedAt: Date.now(), tries: 0 };
    await redirectAfterSave(req, res, '/portal/sign-in/code');
  });

  r.get('/sign-in/code', (req, res) => {
    if (req.portalUser) return res.redirect(303, '/portal');
    if (!req.session.signIn) return res.redirect(303, '/portal/sign-in');
    render(res, 'sign-in-code.njk', { title: 'Check your email', email: req.session.signIn.email });
  });

  r.post('/sign-in/code', async (req, res) => {
    const pending = req.session.signIn;
    if (!pending) return res.redirect(303, '/portal/sign-in');
    const raw = (req.body as Record<string, unknown> | undefined)?.['code'];
    const code = typeof raw === 'string' ? raw.replace(/[\s-]/g, '') : '';
    const again = (status: number, text: string) => {
      res.status(status);
      render(res, 'sign-in-code.njk', {
        title: 'Check your email',
        email: pending.email,
        errors: [{ text, href: '#code' }],
        hasError: true,
      });
    };
    if (code === '') return again(400, 'Enter the 6-digit code from the email');
    if (!/^\d{6}$/.test(code)) return again(400, 'The code must be 6 digits, like 123456');
    if (!(await withinLimits(res, [ipKey(req)]))) return;

    // tries are counted on the code (for a known address) and in the session (for any): the answers are the same
    pending.tries += 1;
    const user = await users.byEmail(db, pending.email);
    const timedOut = Date.now() - pending.startedAt > CODE_VALID_MS || pending.tries > CODE_MAX_TRIES;
    const check = user
      ? await signInCodes.attempt(db, {
          userId: user.id,
          maxTries: CODE_MAX_TRIES,
          matches: (hash) => hash === codeHash(user.id, code),
        })
      : timedOut
        ? 'none'
        : 'wrong';
    if (check === 'none' || (check === 'wrong' && timedOut)) {
      return again(400, 'This code has expired or has been tried too many times. Get a new code.');
    }
    if (check === 'wrong') return again(400, 'The code is not correct. Check the email and try again.');

    // signed in: a new session id (no session fixation), a new CSRF token
    const returnTo = req.session.returnTo;
    req.session.regenerate((err) => {
      if (err) return res.status(500).end();
      req.session.userId = user!.id;
      res.cookie(SIGNED_IN_COOKIE, '1', { path: '/portal', httpOnly: true, sameSite: 'lax', secure: req.secure });
      users
        .signedIn(db, user!.id)
        .catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'cannot record a sign-in'));
      const home = NAVIGATION[user!.role][0]!.href;
      const allowed = returnTo && NAVIGATION[user!.role].some((n) => returnTo.startsWith(n.href));
      req.session.save(() => res.redirect(303, allowed ? returnTo : home));
    });
  });

  r.post('/sign-out', (req, res) => {
    req.session.destroy(() => {
      res.clearCookie(SESSION_COOKIE, { path: '/portal' });
      res.clearCookie(SIGNED_IN_COOKIE, { path: '/portal' });
      res.redirect(303, '/portal/signed-out');
    });
  });

  r.get('/signed-out', (req, res) => {
    if (req.portalUser) return res.redirect(303, '/portal');
    render(res, 'signed-out.njk', { title: 'You have signed out' });
  });

  return r;
}
