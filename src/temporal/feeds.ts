/**
 * Starting the feed watchers (workflows/feed-watch.ts, CONTRACT.md "Feeds"): one per hospital, started when the
 * hospital is registered and made sure of by every worker at start (and every 10 minutes), so hospitals registered
 * before this version, or while Temporal was unreachable, get theirs. Starting is idempotent: a watcher already
 * running is left alone (conflict policy USE_EXISTING); one that ended is started afresh.
 */
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import * as feeds from '../db/feeds.js';
import {
  FEED_WATCH_WORKFLOW,
  feedSettingsChangedSignal,
  feedWatchId,
  type FeedWatchInput,
} from '../../workflows/feed-definitions.js';
import { HospitalOdsKey } from './search-attributes.js';

export interface WatchedHospital {
  id: string;
  odsCode: string;
}

function startOptions(taskQueue: string, h: WatchedHospital) {
  return {
    workflowId: feedWatchId(h),
    taskQueue,
    args: [{ hospitalId: h.id, odsCode: h.odsCode }] as [FeedWatchInput],
    staticSummary: `Feed watcher of ${h.odsCode}`,
    typedSearchAttributes: [{ key: HospitalOdsKey, value: h.odsCode }],
  };
}

/** A call to Temporal here gives up after this long (Temporal unreachable): the next round tries again. */
const CALL_DEADLINE_MS = 10_000;

/** Starts the hospital's feed watcher unless it is running. */
export async function ensureFeedWatcher(client: Client, taskQueue: string, h: WatchedHospital): Promise<void> {
  await client.connection.withDeadline(Date.now() + CALL_DEADLINE_MS, () =>
    client.workflow.start(FEED_WATCH_WORKFLOW, {
      ...startOptions(taskQueue, h),
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  );
}

/** Tells the hospital's feed watcher that its settings changed (it looks again at once), starting it if needed. */
export async function signalFeedSettingsChanged(client: Client, taskQueue: string, h: WatchedHospital): Promise<void> {
  await client.connection.withDeadline(Date.now() + CALL_DEADLINE_MS, () =>
    client.workflow.signalWithStart(FEED_WATCH_WORKFLOW, {
      ...startOptions(taskQueue, h),
      signal: feedSettingsChangedSignal,
      signalArgs: [],
    }),
  );
}

/**
 * Makes sure every hospital has its watcher, now and every `everyMs`; failures are logged and tried again at the
 * next round. Returns a function that stops it.
 */
export function keepFeedWatchers(deps: {
  db: Db;
  client: Client;
  taskQueue: string;
  logger: Logger;
  everyMs?: number;
}): () => Promise<void> {
  const { db, client, taskQueue, logger } = deps;
  let running: Promise<void> = Promise.resolve();
  const round = async () => {
    try {
      const hospitals = await feeds.watchedHospitals(db);
      for (const h of hospitals) await ensureFeedWatcher(client, taskQueue, h);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'cannot make sure of the feed watchers; trying again later');
    }
  };
  running = round();
  const timer = setInterval(
    () => {
      running = running.then(round);
    },
    deps.everyMs ?? 10 * 60 * 1000,
  );
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
