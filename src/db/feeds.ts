/**
 * Hospitals' feeds (CONTRACT.md "Feeds"): what each hospital has sent lately, whether it is silent, and the silence
 * the feed watcher recorded (`hospitals.feed_silent_since`). A message counts as a sign of life of a hospital's feed
 * when it is stored under that hospital's ODS code (MSH-4, or the Encounter's `serviceProvider`), accepted or
 * rejected, live or training, except one refused because its sender was not that hospital (HTTP 403: another
 * hospital's key naming it in MSH-4), which is not its feed speaking.
 */
import { silentSince, type FeedFacts } from '../domain/feed.js';
import { transaction, type Db } from './client.js';

/** A hospital's feed as operators see it (`GET /v1/hospitals/{id}/feed`). Times are ISO 8601. */
export interface FeedHealth {
  /** the last message stored under the hospital's ODS code (a sign of life, see above), or null when none */
  lastMessageAt: string | null;
  /** messages stored in the 24 hours up to now, accepted and rejected */
  messagesLast24h: number;
  /** of those, the rejected ones (AE, AR, 4xx) */
  rejectedLast24h: number;
  /** nothing for longer than `silenceAlertSeconds` (never when that is 0) */
  silent: boolean;
  /** while silent: the last sign of life (the last message, or the registration when none), else null */
  silentSince: string | null;
}

/** A hospital's feed with the hospital it belongs to (the list variant, for the portal). */
export interface HospitalFeed extends FeedHealth {
  hospitalId: string;
  odsCode: string;
  name: string;
  silenceAlertSeconds: number;
}

interface FeedRow {
  id: string;
  odsCode: string;
  name: string;
  silenceAlertSeconds: number;
  registeredAt: Date;
  lastMessageAt: Date | null;
  messages: number;
  rejected: number;
}

const DAY_MS = 24 * 3600 * 1000;

async function feedRows(db: Db, now: Date, hospitalId?: string): Promise<FeedRow[]> {
  const { sql } = db;
  const since = new Date(now.getTime() - DAY_MS);
  // one index range per hospital (inbound_messages_hospital_received_idx)
  return sql<FeedRow[]>`
    select h.id, h.ods_code as "odsCode", h.name, h.silence_alert_seconds as "silenceAlertSeconds",
      h.created_at as "registeredAt", last.at as "lastMessageAt",
      coalesce(day.messages, 0)::int as messages, coalesce(day.rejected, 0)::int as rejected
    from hospitals h
    left join lateral (
      select max(m.received_at) as at from inbound_messages m
      where m.hospital_ods = h.ods_code and m.http_status <> 403 and m.received_at <= ${now}
    ) last on true
    left join lateral (
      select count(*) as messages, count(*) filter (where m.status = 'rejected') as rejected
      from inbound_messages m
      where m.hospital_ods = h.ods_code and m.http_status <> 403 and m.received_at > ${since} and m.received_at <= ${now}
    ) day on true
    where ${hospitalId === undefined ? sql`true` : sql`h.id = ${hospitalId}`}
    order by h.ods_code`;
}

function factsOf(r: Pick<FeedRow, 'lastMessageAt' | 'registeredAt' | 'silenceAlertSeconds'>): FeedFacts {
  return {
    lastMessageAt: r.lastMessageAt?.toISOString() ?? null,
    registeredAt: r.registeredAt.toISOString(),
    silenceAlertSeconds: r.silenceAlertSeconds,
  };
}

function healthOf(r: FeedRow, now: Date): FeedHealth {
  const since = silentSince(factsOf(r), now.getTime());
  return {
    lastMessageAt: r.lastMessageAt?.toISOString() ?? null,
    messagesLast24h: r.messages,
    rejectedLast24h: r.rejected,
    silent: since !== null,
    silentSince: since,
  };
}

/**
 * The feed of one hospital at `now` (CONTRACT.md `GET /v1/hospitals/{id}/feed`); undefined when there is no such
 * hospital. `silent` is worked out at `now` from the same rule the feed watcher applies (src/domain/feed.ts), so it
 * holds from the moment the threshold passes, whether or not the watcher has told anyone yet.
 */
export async function feedHealth(db: Db, hospitalId: string, now: Date = new Date()): Promise<FeedHealth | undefined> {
  const [row] = await feedRows(db, now, hospitalId);
  return row && healthOf(row, now);
}

/** The feeds of every hospital at `now`, by ODS code. */
export async function listFeedHealth(db: Db, now: Date = new Date()): Promise<HospitalFeed[]> {
  const rows = await feedRows(db, now);
  return rows.map((r) => ({
    hospitalId: r.id,
    odsCode: r.odsCode,
    name: r.name,
    silenceAlertSeconds: r.silenceAlertSeconds,
    ...healthOf(r, now),
  }));
}

/** What the feed watcher decides from: the facts of {@link FeedFacts} and the silence it recorded last. */
export interface FeedWatch extends FeedFacts {
  odsCode: string;
  name: string;
  /** `hospitals.feed_silent_since`: the silence recorded (and told to the operators), null when none */
  recordedSilentSince: string | null;
}

/** The feed watcher's view of one hospital; undefined when there is no such hospital. */
export async function feedWatch(db: Db, hospitalId: string): Promise<FeedWatch | undefined> {
  const { sql } = db;
  const [row] = await sql<(FeedRow & { recorded: Date | null })[]>`
    select h.ods_code as "odsCode", h.name, h.silence_alert_seconds as "silenceAlertSeconds",
      h.created_at as "registeredAt", h.feed_silent_since as recorded,
      (select max(m.received_at) from inbound_messages m
        where m.hospital_ods = h.ods_code and m.http_status <> 403) as "lastMessageAt"
    from hospitals h where h.id = ${hospitalId}`;
  if (!row) return undefined;
  return {
    ...factsOf(row),
    odsCode: row.odsCode,
    name: row.name,
    recordedSilentSince: row.recorded?.toISOString() ?? null,
  };
}

/** Records the silence the watcher decided on (`hospitals.feed_silent_since`; null: not silent). */
export async function recordSilence(db: Db, hospitalId: string, silentSince: string | null): Promise<void> {
  const { sql } = db;
  await sql`update hospitals set feed_silent_since = ${silentSince} where id = ${hospitalId}`;
}

/** Every hospital (id and ODS code): the watchers to make sure of at start. */
export function watchedHospitals(db: Db): Promise<{ id: string; odsCode: string }[]> {
  const { sql } = db;
  return sql<{ id: string; odsCode: string }[]>`select id, ods_code as "odsCode" from hospitals order by ods_code`;
}

/**
 * Sets a hospital's `silenceAlertSeconds` and writes an audit row (`hospital.feed-settings.updated`) in one
 * transaction; for use inside a larger transaction too. False when there is no such hospital.
 */
export async function setSilenceAlertSeconds(
  db: Db,
  hospitalId: string,
  seconds: number,
  actor: string,
): Promise<boolean> {
  return transaction(db, async (tx) => {
    const rows =
      await tx.sql`update hospitals set silence_alert_seconds = ${seconds} where id = ${hospitalId} returning id`;
    if (rows.length === 0) return false;
    await tx.sql`insert into audit_events (actor, action, entity_type, entity_id, details)
      values (${actor}, 'hospital.feed-settings.updated', 'hospital', ${hospitalId}, ${tx.sql.json({ silenceAlertSeconds: seconds })})`;
    return true;
  });
}
