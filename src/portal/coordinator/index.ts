/** The coordinator's pages (`/portal/alerts`, `/portal/clients`), for coordinators and provider admins. */
import { Router } from 'express';
import type { PortalDeps } from '../app.js';
import { requireRole } from '../session.js';
import { createAlertPages, createLiveAlerts } from './alerts.js';
import { createClientPages } from './clients.js';

export function createCoordinatorPages(deps: PortalDeps): Router {
  const r = Router();
  r.use(createLiveAlerts(deps)); // answers 401 itself: a script asks, not a person
  r.use(['/alerts', '/clients'], requireRole('coordinator', 'admin'));
  r.use(createAlertPages(deps));
  r.use(createClientPages(deps));
  return r;
}
