/** The provider admin's pages (`/portal/admin/...`, role `admin`; the guard is applied where this is mounted). */
import { Router } from 'express';
import type { PortalDeps } from '../app.js';

export function createAdminPages(_deps: PortalDeps): Router {
  return Router();
}
