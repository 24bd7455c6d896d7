/**
 * Hospitals for operators (CONTRACT.md "Feeds", `PUT /v1/hospitals/{id}/code-map`, "Security defaults"): every
 * hospital with its feed health (as `GET /v1/hospitals/{id}/feed`), and a hospital's page with its code map and MLLP
 * senders, read-only (they are changed through the API).
 */
import { Router } from 'express';
import { z } from 'zod';
import * as feeds from '../../db/feeds.js';
import * as hospitalSecurity from '../../db/hospital-security.js';
import * as hospitals from '../../db/hospitals.js';
import type { CodeMap } from '../../domain/clinical.js';
import { PortalNotFound, type PortalDeps } from '../app.js';
import { render } from '../view.js';
import { categoryWords, durationWords, fingerprintPairs } from './words.js';

const uuid = z.string().uuid();

/** A code map's rows, by code: `[{ code, category }]` (a map that was never set has none). */
function codeRows(table: Record<string, string> | undefined) {
  return Object.entries(table ?? {})
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([code, category]) => ({ code, category: categoryWords(category) }));
}

/** "Never" silence alerts when 0; else after how long. */
const silenceWords = (seconds: number) =>
  seconds === 0 ? 'Never' : `After ${durationWords(seconds)} without a message`;

export function createHospitalPages(deps: PortalDeps): Router {
  const { db } = deps;
  const r = Router();

  r.get('/hospitals', async (_req, res) => {
    const rows = await feeds.listFeedHealth(db);
    render(res, 'operator/hospitals.njk', {
      title: 'Hospitals',
      hospitals: rows.map((h) => ({ ...h, silenceAlert: silenceWords(h.silenceAlertSeconds) })),
    });
  });

  r.get('/hospitals/:hospitalId', async (req, res) => {
    const id = String(req.params['hospitalId']);
    if (!uuid.safeParse(id).success) throw new PortalNotFound();
    const [hospital, codeMap, senders, feed] = await Promise.all([
      hospitals.get(db, id),
      hospitals.getCodeMap(db, id),
      hospitalSecurity.mllpSendersOf(db, [id]),
      feeds.listFeedHealth(db).then((all) => all.find((h) => h.hospitalId === id)),
    ]);
    if (!hospital || !feed) throw new PortalNotFound();
    const map: CodeMap = codeMap?.codeMap ?? {};
    const mllp = senders.get(id) ?? { mllpAllowedCidrs: [], mllpCertificateFingerprints: [] };
    render(res, 'operator/hospital.njk', {
      title: hospital.name,
      hospital,
      feed: { ...feed, silenceAlert: silenceWords(feed.silenceAlertSeconds) },
      methodRows: codeRows(map.dischargeMethod),
      destinationRows: codeRows(map.dischargeDestination),
      cidrs: mllp.mllpAllowedCidrs,
      fingerprints: mllp.mllpCertificateFingerprints.map(fingerprintPairs),
    });
  });

  return r;
}
