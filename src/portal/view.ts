/**
 * How portal pages are rendered: nunjucks with nhsuk-frontend, in `templates/layout.njk` (NHS header, service name,
 * navigation by role, skip link, the signed-in user and a sign-out button).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import type nunjucks from 'nunjucks';
import { ASSET_FILES } from '../http/pages/assets.js';
import { createViewEnvironment, formatDateTime } from '../http/pages/view.js';
import type { PortalRole } from './session.js';

/** The portal's templates: `templates/`, and the folders the admin and operator pages add their own to. */
export const PORTAL_TEMPLATES_DIR = fileURLToPath(new URL('./templates', import.meta.url));

/** Where the portal is mounted (src/http/app.ts). */
export const PORTAL_BASE = '/portal';

/** Name of the hidden form field that carries the CSRF token (csrf-sync reads it from the body). */
export const CSRF_FIELD = '_csrf';

/** The pages of each role's navigation, in order; the first is where `/portal` and a sign-in lead. */
export const NAVIGATION: Record<PortalRole, readonly { href: string; text: string }[]> = {
  coordinator: [
    { href: '/portal/alerts', text: 'Alerts' },
    { href: '/portal/clients', text: 'Clients' },
  ],
  admin: [
    { href: '/portal/alerts', text: 'Alerts' },
    { href: '/portal/clients', text: 'Clients' },
    { href: '/portal/admin/users', text: 'Users' },
    { href: '/portal/admin/contacts', text: 'Contacts' },
    { href: '/portal/admin/ladder', text: 'Escalation' },
    { href: '/portal/admin/roster', text: 'Client list' },
  ],
  operator: [
    { href: '/portal/operator/review', text: 'Review queue' },
    { href: '/portal/operator/hospitals', text: 'Hospitals' },
    { href: '/portal/operator/providers', text: 'Providers' },
    { href: '/portal/operator/messages', text: 'Messages' },
  ],
};

export const ROLE_LABELS: Record<PortalRole, string> = {
  coordinator: 'Coordinator',
  admin: 'Provider admin',
  operator: 'Operator',
};

let environment: nunjucks.Environment | undefined;

/** One environment for every portal page (templates are compiled once and cached). */
export function portalViewEnvironment(): nunjucks.Environment {
  if (!environment) {
    environment = createViewEnvironment([
      PORTAL_TEMPLATES_DIR,
      join(PORTAL_TEMPLATES_DIR, 'admin'),
      join(PORTAL_TEMPLATES_DIR, 'operator'),
    ]);
    environment.addFilter('dateTime', (iso: unknown) =>
      iso instanceof Date ? formatDateTime(iso.toISOString()) : typeof iso === 'string' ? formatDateTime(iso) : '',
    );
  }
  return environment;
}

/** The context every page's layout needs: assets, CSP nonce, CSRF token, the user and their navigation. */
function layoutContext(req: Request, res: Response): Record<string, unknown> {
  const user = req.portalUser;
  const path = `${req.baseUrl}${req.path}`;
  return {
    htmlLang: 'en-GB',
    assetPath: `${PORTAL_BASE}/assets`,
    cssUrl: `${PORTAL_BASE}/assets${ASSET_FILES.css}`,
    jsUrl: `${PORTAL_BASE}/assets${ASSET_FILES.js}`,
    cspNonce: res.locals['cspNonce'] as string | undefined,
    csrfField: CSRF_FIELD,
    csrfToken: req.csrfToken?.(),
    user: user ? { ...user, roleLabel: ROLE_LABELS[user.role] } : undefined,
    navigation: user
      ? NAVIGATION[user.role].map((item) => ({
          ...item,
          current: path === item.href || path.startsWith(`${item.href}/`),
        }))
      : [],
  };
}

/**
 * Renders a portal template with the layout's context and `context`, with the status already set on `res`
 * (default 200), as HTML. Templates `{% extends "layout.njk" %}` and fill `pageContent`; every form must carry
 * `<input type="hidden" name="{{ csrfField }}" value="{{ csrfToken }}">`.
 */
export function render(res: Response, template: string, context: Record<string, unknown> = {}): void {
  const html = portalViewEnvironment().render(template, { ...layoutContext(res.req, res), ...context });
  res.type('html').send(html);
}
