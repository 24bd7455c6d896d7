/**
 * What the Prometheus gauges read from PostgreSQL when scraped (src/metrics/metrics.ts), and the one look-up the
 * alert delivery latency needs. The relay, review and feed queries are served by partial or (hospital, time)
 * indexes; the alert counts read the alerts' (provider, status) index. A scrape every few seconds costs little.
 */
import type { Db } from './client.js';

/** What the database gauges show, read at each scrape ({@link snapshot}). */
export interface DatabaseSnapshot {
  relayBacklog: number;
  relayLagSeconds: number;
  alertsUnacknowledged: number;
  alertsOpen: number;
  reviewWaiting: number;
  feeds: { hospital: string; silenceSeconds: number; thresholdSeconds: number }[];
}

/**
 * The relay's backlog and lag (accepted rows not yet dispatched, the partial index the relay claims from), alerts
 * by status, the review queue (its partial index), and for each hospital that has a silence threshold the seconds
 * since its last stored message, accepted or rejected (since its registration when it has sent none).
 */
export async function snapshot(db: Db): Promise<DatabaseSnapshot> {
  const { sql } = db;
  const [counts, feeds] = await Promise.all([
    sql<
      {
        backlog: number;
        lag: number;
        unacknowledged: number;
        open: number;
        review: number;
      }[]
    >`
      select
        (select count(*) from inbound_messages where status = 'accepted' and dispatched_at is null)::int as backlog,
        coalesce((
          select extract(epoch from now() - received_at) from inbound_messages
          where status = 'accepted' and dispatched_at is null
          order by id limit 1
        ), 0)::float8 as lag,
        (select count(*) from alerts where status = 'unacknowledged')::int as unacknowledged,
        (select count(*) from alerts where status = 'open')::int as open,
        (select count(*) from admissions where status = 'unmatched' and review_resolved_at is null)::int as review`,
    sql<{ ods_code: string; silence: number; threshold: number }[]>`
      select h.ods_code,
        greatest(0, extract(epoch from now() - coalesce(
          (select max(m.received_at) from inbound_messages m where m.hospital_ods = h.ods_code),
          h.created_at
        )))::float8 as silence,
        h.silence_alert_seconds as threshold
      from hospitals h
      where h.silence_alert_seconds > 0
      order by h.ods_code`,
  ]);
  const c = counts[0]!;
  return {
    relayBacklog: c.backlog,
    relayLagSeconds: Math.max(0, c.lag),
    alertsUnacknowledged: c.unacknowledged,
    alertsOpen: c.open,
    reviewWaiting: c.review,
    feeds: feeds.map((f) => ({ hospital: f.ods_code, silenceSeconds: f.silence, thresholdSeconds: f.threshold })),
  };
}

/**
 * Seconds from the arrival of the message that raised the alert to this delivery's acceptance (`sent_at`), when this
 * delivery is the alert's first accepted one; undefined otherwise (an earlier one was accepted, or the alert has no
 * stored message). Two deliveries of one alert accepted in the same instant by different workers may both count.
 */
export async function firstDeliverySeconds(db: Db, deliveryId: string): Promise<number | undefined> {
  const { sql } = db;
  const [row] = await sql<{ seconds: number }[]>`
    select extract(epoch from d.sent_at - m.received_at)::float8 as seconds
    from deliveries d
    join alerts a on a.id = d.alert_id
    join inbound_messages m
      on m.id = case when a.message_id ~ '^[0-9]{1,18}$' then a.message_id::bigint end
    where d.id = ${deliveryId} and d.status = 'sent' and d.sent_at is not null
      and not exists (
        select 1 from deliveries o
        where o.alert_id = d.alert_id and o.status = 'sent' and o.id <> d.id and o.sent_at <= d.sent_at
      )`;
  return row?.seconds;
}
