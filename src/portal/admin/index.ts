/**
 * The provider admin's pages (`/portal/admin/...`, role `admin`; the guard is applied where this is mounted): users,
 * contacts, the escalation ladder and the client list, each only of the admin's own provider.
 */
import { Router } from 'express';
import type { PortalDeps } from '../app.js';
import { createContactPages } from './contacts.js';
import { createLadderPages } from './ladder.js';
import { createRosterPages } from './roster.js';
import { createUserPages } from './users.js';

export function createAdminPages(deps: PortalDeps): Router {
  const r = Router();
  r.use(createUserPages(deps));
  r.use(createContactPages(deps));
  r.use(createLadderPages(deps));
  r.use(createRosterPages(deps));
  return r;
}
