/**
 * Activities of the feed watcher (workflows/feed-watch.ts, CONTRACT.md "Feeds"): read what a hospital's feed has
 * done, and record the silence the watcher decided on. Telling the operators is `notifyFeed` (activities/operator.ts).
 */
import type { Db } from '../src/db/client.js';
import * as feeds from '../src/db/feeds.js';
import type { FeedFacts } from '../src/domain/feed.js';

/** What the watcher decides from (no patient data: a hospital, its times and its threshold). */
export interface FeedReading extends FeedFacts {
  odsCode: string;
  /** the silence recorded in PostgreSQL (`hospitals.feed_silent_since`), null when none */
  recordedSilentSince: string | null;
}

/** A message to the operator contacts about one hospital's feed. */
export interface FeedNotice {
  hospitalId: string;
  kind: 'feed-silent' | 'feed-resumed';
  /** the silence it is about: its start (the last sign of life before it) */
  silentSince: string;
  /** the last message the watcher knew of when it decided (null: none ever) */
  lastMessageAt: string | null;
  silenceAlertSeconds: number;
}

/** The activity interface the feed watcher sees (workflows import it as a type only). */
export interface FeedActivities {
  /** the hospital's feed facts and recorded silence; null when the hospital no longer exists */
  readFeed(input: { hospitalId: string }): Promise<FeedReading | null>;
  /** records the silence decided on (null: not silent) in `hospitals.feed_silent_since` */
  recordFeedSilence(input: { hospitalId: string; silentSince: string | null }): Promise<void>;
  /**
   * Tells the operator contacts once (per silence, kind and channel: message id
   * `<kind>:<hospital id>:<silentSince>:<channel>`) that a feed went silent or came back. Idempotent.
   */
  notifyFeed(input: FeedNotice): Promise<void>;
}

export function createFeedActivities(deps: { db: Db }): Pick<FeedActivities, 'readFeed' | 'recordFeedSilence'> {
  const { db } = deps;
  return {
    async readFeed({ hospitalId }) {
      const w = await feeds.feedWatch(db, hospitalId);
      if (!w) return null;
      return {
        odsCode: w.odsCode,
        lastMessageAt: w.lastMessageAt,
        registeredAt: w.registeredAt,
        silenceAlertSeconds: w.silenceAlertSeconds,
        recordedSilentSince: w.recordedSilentSince,
      };
    },
    async recordFeedSilence({ hospitalId, silentSince }) {
      await feeds.recordSilence(db, hospitalId, silentSince);
    },
  };
}
