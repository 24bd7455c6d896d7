/**
 * The web portal (CONTRACT.md "Web portal"), mounted at `/portal`: pages for coordinators, provider admins and
 * operators, server-rendered with nhsuk-frontend. Sign-in by emailed code; sessions in PostgreSQL; every POST
 * protected against cross-site requests; roles enforced on every page; another provider's things are 404.
 */
import { fileURLToPath } from 'node:url';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Store } from 'express-session';
import type { AppDeps } from '../http/app.js';
import { createAssetsRouter } from '../http/pages/assets.js';
import { pageSecurityHeaders } from '../http/pages/security-headers.js';
import type { NotifySender } from '../notify/channel.js';
import { createAdminPages } from './admin/index.js';
import { createCoordinatorPages } from './coordinator/index.js';
import { createOperatorPages } from './operator/index.js';
import { csrf, loadUser, requireRole, sessionMiddleware, WrongRole } from './session.js';
import { createSignInPages } from './sign-in.js';
import { NAVIGATION, render } from './view.js';

export { portalUser, providerIdOf, requireRole, type PortalRole, type PortalUser } from './session.js';
export { CSRF_FIELD, NAVIGATION, render } from './view.js';

/** What the portal needs beyond the API's dependencies. */
export interface PortalOptions {
  /** sends sign-in codes (NOTIFY_SIGN_IN_TEMPLATE_ID) */
  notify: NotifySender;
  /** where sessions are kept: connect-pg-simple over `portal_sessions` (src/service.ts) */
  sessionStore: Store;
  /** signs the session cookie; the same in every API process (SESSION_SECRET, else derived from ADMIN_TOKEN) */
  sessionSecret: string;
}

/** Everything a portal page may use: the API's dependencies (db, temporal, config, logger, ...) and the portal's. */
export type PortalDeps = Omit<AppDeps, 'portal'> & PortalOptions;

/** A page's answer for something that does not exist or is another provider's (never 403: existence is not told). */
export class PortalNotFound extends Error {
  readonly status = 404;
}

/** Renders the portal's 404 page. */
export function notFoundPage(res: Response): void {
  res.status(404);
  render(res, 'not-found.njk', { title: 'Page not found' });
}

export function createPortal(deps: PortalDeps): Router {
  const portal = Router();
  portal.use('/assets', createAssetsRouter());
  portal.use(
    '/static',
    express.static(fileURLToPath(new URL('./static', import.meta.url)), { index: false, redirect: false, maxAge: 0 }),
  );
  portal.use(pageSecurityHeaders());
  portal.use(
    sessionMiddleware({
      store: deps.sessionStore,
      secret: deps.sessionSecret,
      secure: deps.config.publicBaseUrl.startsWith('https:'),
    }),
  );
  // a pasted client list may be large; multipart bodies are left to the page that takes them
  portal.use(express.urlencoded({ extended: false, limit: '2mb', parameterLimit: 200 }));
  portal.use(loadUser(deps.db));
  portal.use(csrf.csrfSynchronisedProtection);

  portal.use(createSignInPages(deps));
  portal.get('/', requireRole('coordinator', 'admin', 'operator'), (req, res) => {
    res.redirect(303, NAVIGATION[req.portalUser!.role][0]!.href);
  });
  portal.use('/admin', requireRole('admin'), createAdminPages(deps));
  portal.use('/operator', requireRole('operator'), createOperatorPages(deps));
  portal.use(createCoordinatorPages(deps));

  portal.use((_req, res) => notFoundPage(res));
  portal.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    if (err instanceof PortalNotFound) return notFoundPage(res);
    if (err instanceof WrongRole) {
      res.status(403);
      return render(res, 'message.njk', {
        title: 'No access',
        heading: 'You do not have access to this page',
        paragraphs: ['This page is for another role. Use the links at the top of the page.'],
      });
    }
    if (err === csrf.invalidCsrfTokenError) {
      res.status(403);
      return render(res, 'message.njk', {
        title: 'Form not accepted',
        heading: 'Sorry, we could not accept that form',
        paragraphs: [
          'This can happen if the page was open for a long time, if you signed out in another tab, or if the form was sent from another website.',
          'Nothing has been changed. Go back, reload the page and try again.',
        ],
      });
    }
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status);
      return render(res, 'message.njk', {
        title: status === 413 ? 'Form too large' : 'Request not accepted',
        heading: status === 413 ? 'Sorry, that form was too large' : 'Sorry, we could not accept that request',
        paragraphs: ['Go back and try again.'],
      });
    }
    deps.logger.error({ err: (err as Error).message, path: req.path }, 'portal page failed');
    res.status(500);
    render(res, 'message.njk', {
      title: 'Problem with the service',
      heading: 'Sorry, there is a problem with the service',
      paragraphs: ['Try again later.'],
    });
  });
  return portal;
}
