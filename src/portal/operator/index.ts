/** The operator's pages (`/portal/operator/...`, role `operator`; the guard is applied where this is mounted). */
import { Router } from 'express';
import type { PortalDeps } from '../app.js';

export function createOperatorPages(_deps: PortalDeps): Router {
  return Router();
}
