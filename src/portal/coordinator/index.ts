/** The coordinator's pages (`/portal/alerts`, `/portal/clients`), for coordinators and provider admins. */
import { Router } from 'express';
import type { PortalDeps } from '../app.js';
import { requireRole } from '../session.js';

export function createCoordinatorPages(_deps: PortalDeps): Router {
  const r = Router();
  r.use(['/alerts', '/clients'], requireRole('coordinator', 'admin'));
  return r;
}
