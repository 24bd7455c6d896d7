/**
 * Hospitals' feeds (CONTRACT.md "Feeds"): `GET /v1/hospitals/{id}/feed` (operator), the `silenceAlertSeconds` field
 * of `POST /v1/hospitals` and `PATCH /v1/hospitals/{id}`, and telling the hospital's feed watcher about either.
 */
import { Router } from 'express';
import { z } from 'zod';
import { feedHealth } from '../../db/feeds.js';
import { MAX_SILENCE_ALERT_SECONDS } from '../../domain/feed.js';
import { ensureFeedWatcher, signalFeedSettingsChanged, type WatchedHospital } from '../../temporal/feeds.js';
import type { AppDeps } from '../app.js';
import { requireAdmin } from '../auth.js';
import { notFound } from '../problem.js';

const SILENCE_MESSAGE = `must be a whole number of seconds from 0 (never) to ${MAX_SILENCE_ALERT_SECONDS}`;

/** `silenceAlertSeconds`: optional, a whole number of seconds, 0 (never silent) to 30 days. */
export const silenceAlertSecondsShape = {
  silenceAlertSeconds: z
    .number({ invalid_type_error: SILENCE_MESSAGE })
    .int(SILENCE_MESSAGE)
    .min(0, SILENCE_MESSAGE)
    .max(MAX_SILENCE_ALERT_SECONDS, SILENCE_MESSAGE)
    .optional(),
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type WatcherDeps = Pick<AppDeps, 'temporal' | 'config' | 'logger'>;

/**
 * Starts a new hospital's feed watcher (`settingsChanged`: tells a running one to look again at once). A failure
 * (Temporal unreachable) is logged, never answered: the change is stored, and the workers make sure of every
 * watcher at start and every 10 minutes.
 */
export async function wakeFeedWatcher(deps: WatcherDeps, h: WatchedHospital, settingsChanged: boolean): Promise<void> {
  const taskQueue = deps.config.temporal?.taskQueue ?? 'admission-alerts';
  try {
    await (settingsChanged
      ? signalFeedSettingsChanged(deps.temporal, taskQueue, h)
      : ensureFeedWatcher(deps.temporal, taskQueue, h));
  } catch (err) {
    deps.logger.warn(
      { hospital: h.odsCode, err: (err as Error).message },
      'cannot reach the feed watcher now; the workers start it within 10 minutes',
    );
  }
}

export function createFeedRoutes(deps: Pick<AppDeps, 'db'>): Router {
  const r = Router();

  /** `GET /v1/hospitals/{id}/feed` (operator): `{lastMessageAt, messagesLast24h, rejectedLast24h, silent, silentSince}`. */
  r.get('/hospitals/:id/feed', async (req, res) => {
    requireAdmin(req);
    const id = String(req.params.id);
    if (!UUID.test(id)) throw notFound('hospital');
    const feed = await feedHealth(deps.db, id);
    if (!feed) throw notFound('hospital');
    res.json(feed);
  });

  return r;
}
