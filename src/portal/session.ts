/**
 * Who is signed in to the portal: sessions in PostgreSQL (express-session with connect-pg-simple, table
 * `portal_sessions`), ended after 30 minutes idle; every POST protected against cross-site requests (csrf-sync's
 * synchroniser token, kept in the session).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session, { type Store } from 'express-session';
import { csrfSync } from 'csrf-sync';
import type { Db } from '../db/client.js';
import * as providers from '../db/providers.js';
import * as users from '../db/users.js';

export type PortalRole = users.UserRole;

/** The signed-in user, as every page sees it. `providerId` is null for operators. */
export interface PortalUser {
  id: string;
  providerId: string | null;
  role: PortalRole;
  name: string;
  email: string;
  /** the provider's name (null for operators) */
  providerName: string | null;
}

declare module 'express-session' {
  interface SessionData {
    /** the signed-in user */
    userId?: string;
    /** between the two sign-in steps: the address given, when, and the code tries made (for any address) */
    signIn?: { email: string; startedAt: number; tries: number };
    /** the page a signed-out visitor asked for, opened after sign-in */
    returnTo?: string;
    /** the visitor's previous session ended while idle: the sign-in page says so */
    ended?: boolean;
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** the signed-in user, loaded afresh on every request (a removed user is signed out at once) */
    portalUser?: PortalUser;
  }
}

/** Sessions end after this long without a request (CONTRACT.md "Web portal": 30 minutes idle). */
export const SESSION_IDLE_MS = 30 * 60 * 1000;

/** The session cookie's name; it is sent only to `/portal`. */
export const SESSION_COOKIE = 'aa_portal';
/**
 * A browser-session cookie set at sign-in and cleared at sign-out: sent with no signed-in session, it means the
 * session ended while idle, which the sign-in page then says. It grants nothing.
 */
export const SIGNED_IN_COOKIE = 'aa_portal_signed_in';

/**
 * express-session over `store`: a rolling cookie (every response pushes the idle deadline back), `httpOnly`,
 * `SameSite=Lax`, `Secure` when the service's public address is https (then a TLS-terminating proxy's
 * `X-Forwarded-Proto` is trusted for it). Sessions are created only when something is stored in them.
 */
export function sessionMiddleware(opts: { store: Store; secret: string; secure: boolean }): RequestHandler {
  return session({
    store: opts.store,
    secret: opts.secret,
    name: SESSION_COOKIE,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    unset: 'destroy',
    ...(opts.secure ? { proxy: true } : {}),
    cookie: { path: '/portal', httpOnly: true, sameSite: 'lax', secure: opts.secure, maxAge: SESSION_IDLE_MS },
  });
}

/**
 * csrf-sync: a token per session, checked on every POST. Forms send it in the body field `_csrf` (urlencoded);
 * scripts in the `X-CSRF-Token` header; a multipart form (its body is not parsed before the check) in the query
 * string `?_csrf=`.
 */
export const csrf = csrfSync({
  getTokenFromRequest: (req) => {
    const body = req.body as Record<string, unknown> | undefined;
    const fromBody = typeof body?.['_csrf'] === 'string' ? body['_csrf'] : undefined;
    const fromQuery = typeof req.query['_csrf'] === 'string' ? req.query['_csrf'] : undefined;
    return fromBody ?? req.get('x-csrf-token') ?? fromQuery;
  },
});

/**
 * Redirects (303) once the session is stored. express-session sends a response's headers before its save finishes
 * (it holds back only the body's last byte), so a browser following the redirect at once could read the session
 * without what was just put in it: a sign-in that lands back on the first page, a lost notice. Every handler that
 * changes the session and then redirects goes through here.
 */
export async function redirectAfterSave(req: Request, res: Response, url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err as Error) : resolve())));
  res.redirect(303, url);
}

/** Loads the session's user (and their provider's name); a session whose user was removed is ended. */
export function loadUser(db: Db): RequestHandler {
  return async (req, _res, next) => {
    const id = req.session?.userId;
    if (!id) return next();
    const user = await users.get(db, id);
    if (!user) {
      delete req.session.userId;
      return next();
    }
    const provider = user.providerId ? await providers.get(db, user.providerId) : undefined;
    req.portalUser = {
      id: user.id,
      providerId: user.providerId,
      role: user.role,
      name: user.name,
      email: user.email,
      providerName: provider?.name ?? null,
    };
    next();
  };
}

/** The signed-in user; throws when there is none (use behind {@link requireRole}). */
export function portalUser(req: Request): PortalUser {
  if (!req.portalUser) throw new Error('portalUser: no signed-in user (is the route behind requireRole?)');
  return req.portalUser;
}

/** The provider of the signed-in coordinator or admin (behind `requireRole('coordinator', 'admin')`). */
export function providerIdOf(req: Request): string {
  const { providerId } = portalUser(req);
  if (!providerId) throw new Error('providerIdOf: the signed-in user belongs to no provider');
  return providerId;
}

/** Thrown by {@link requireRole} for a signed-in user of another role: the portal answers 403 with a page. */
export class WrongRole extends Error {
  readonly status = 403;
}

/**
 * Only these roles pass. A visitor who is not signed in is sent to sign in (303 to `/portal/sign-in`, coming back
 * to the page asked for after sign-in when it was a GET); a signed-in user of another role gets a 403 page.
 */
export function requireRole(...roles: PortalRole[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const user = req.portalUser;
    if (!user) {
      if (req.method === 'GET') req.session.returnTo = req.originalUrl.split('?')[0];
      if (req.get('cookie')?.includes(`${SIGNED_IN_COOKIE}=`)) {
        req.session.ended = true;
        res.clearCookie(SIGNED_IN_COOKIE, { path: '/portal' });
      }
      return redirectAfterSave(req, res, '/portal/sign-in').catch(next);
    }
    if (!roles.includes(user.role)) return next(new WrongRole('This page is not for your role'));
    next();
  };
}
