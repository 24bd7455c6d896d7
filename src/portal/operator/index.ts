/**
 * The operator's pages (`/portal/operator/...`, role `operator`; the guard is applied where this is mounted): the
 * review queue (resolve, dismiss), hospitals with feed health and code maps, providers, rejected messages, and a
 * link from each stay to its workflow in the Temporal UI (TEMPORAL_UI_URL).
 */
import { Router } from 'express';
import type { PortalDeps } from '../app.js';
import { createHospitalPages } from './hospitals.js';
import { createMessagePages } from './messages.js';
import { createProviderPages } from './providers.js';
import { createReviewPages } from './review.js';

export function createOperatorPages(deps: PortalDeps): Router {
  const r = Router();
  r.get('/', (_req, res) => res.redirect(303, '/portal/operator/review'));
  r.use(createReviewPages(deps));
  r.use(createHospitalPages(deps));
  r.use(createProviderPages(deps));
  r.use(createMessagePages(deps));
  return r;
}
