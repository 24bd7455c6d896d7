/**
 * Feed silence (CONTRACT.md "Feeds"), as pure rules: a hospital is silent when it has sent nothing for longer than
 * its `silenceAlertSeconds` (0: never). Its last sign of life is its last stored message (accepted or rejected), or
 * its registration when it has sent nothing yet. `silentSince` is that last sign of life: the feed has been quiet
 * since then. Used by the API (`GET /v1/hospitals/{id}/feed`) and by the feed watcher workflow, so both agree.
 */

/** What the silence of one hospital's feed is decided from. Times are ISO 8601. */
export interface FeedFacts {
  /** the last message stored under the hospital's ODS code (MSH-4), or null when none */
  lastMessageAt: string | null;
  /** when the hospital was registered: the start of its silence while it has sent nothing */
  registeredAt: string;
  /** silence longer than this is a feed alert; 0 never */
  silenceAlertSeconds: number;
}

/** Default `silenceAlertSeconds` (CONTRACT.md: 7200). */
export const DEFAULT_SILENCE_ALERT_SECONDS = 7200;
/** The largest `silenceAlertSeconds` accepted: 30 days. */
export const MAX_SILENCE_ALERT_SECONDS = 30 * 24 * 3600;
/** While a feed is silent, the watcher looks for its return at least this often (or every threshold, if shorter). */
export const RECOVERY_CHECK_SECONDS = 60;

/** The last sign of life of the feed (epoch ms): its last message, else its registration. */
export function lastSignOfLife(f: FeedFacts): number {
  return Date.parse(f.lastMessageAt ?? f.registeredAt);
}

/** The moment (epoch ms) the feed is silent from, if nothing arrives meanwhile; undefined when it never is. */
export function silentAt(f: FeedFacts): number | undefined {
  if (f.silenceAlertSeconds <= 0) return undefined;
  // "longer than": silent from the first millisecond after the threshold
  return lastSignOfLife(f) + f.silenceAlertSeconds * 1000 + 1;
}

/** The start of the feed's silence (ISO 8601) when it is silent at `nowMs`, else null. */
export function silentSince(f: FeedFacts, nowMs: number): string | null {
  const at = silentAt(f);
  if (at === undefined || nowMs < at) return null;
  return new Date(lastSignOfLife(f)).toISOString();
}

/** A message to the operator contacts about a feed (CONTRACT.md: `feed-silent` / `feed-resumed`). */
export interface FeedMessage {
  kind: 'feed-silent' | 'feed-resumed';
  /** the silence it is about (its start): part of the message's idempotency key */
  silentSince: string;
}

/** What the feed watcher does after one look at the facts. */
export interface FeedPlan {
  /** the silence to record (null: not silent) */
  silentSince: string | null;
  /** the messages to send, in order (none when nothing changed) */
  messages: FeedMessage[];
  /** how long to sleep before the next look (ms) */
  wakeInMs: number;
}

/** The longest the watcher sleeps while nothing can change without a signal (a threshold of 0): one day. */
export const IDLE_WAKE_MS = 24 * 3600 * 1000;

/**
 * One look of the watcher. `known` is the silence the watcher knows of (recorded and told), null when none. Going
 * silent tells `feed-silent`; a silence that ends because a message arrived after it began tells `feed-resumed`
 * (also when the feed is silent again by the next look: then `feed-resumed` and a new `feed-silent`); a silence that
 * ends because the threshold was raised or set to 0, with nothing arrived, ends without a message. `ensure`: tell a
 * known silence again (a fresh watcher run makes sure a silence recorded by an earlier run was told; the message id
 * makes the repeat a no-op).
 */
export function planFeed(f: FeedFacts, known: string | null, nowMs: number, ensure = false): FeedPlan {
  const since = silentSince(f, nowMs);
  const messages: FeedMessage[] = [];
  const spokeSince = (t: string) => f.lastMessageAt !== null && Date.parse(f.lastMessageAt) > Date.parse(t);
  if (known !== null && since !== known && spokeSince(known)) {
    messages.push({ kind: 'feed-resumed', silentSince: known });
  }
  if (since !== null) {
    if (since !== known || ensure) messages.push({ kind: 'feed-silent', silentSince: since });
    const recheck = Math.min(RECOVERY_CHECK_SECONDS, f.silenceAlertSeconds) * 1000;
    return { silentSince: since, messages, wakeInMs: Math.max(1000, recheck) };
  }
  const at = silentAt(f);
  return { silentSince: null, messages, wakeInMs: at === undefined ? IDLE_WAKE_MS : Math.max(1, at - nowMs) };
}

/** A threshold in words for people: `2 hours`, `90 minutes`, `3 seconds`. */
export function durationWords(seconds: number): string {
  const [n, unit] =
    seconds % 3600 === 0
      ? [seconds / 3600, 'hour']
      : seconds % 60 === 0
        ? [seconds / 60, 'minute']
        : [seconds, 'second'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
