import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { RetryableDeliveryError } from './channel.js';
import type { OperatorMessageBody, SendOutcome, WebhookBody, WebhookSender } from './channel.js';
import { BlockedAddressError, assertPublicAddress, checkWebhookUrl, pinnedLookup } from './url-guard.js';
import type { PinnedLookup, Resolver } from './url-guard.js';

/** The header carrying the signature (CONTRACT.md "Webhook delivery"). */
export const SIGNATURE_HEADER = 'X-Signature';
/** The header carrying the event id, so receivers can de-duplicate without parsing the body. */
export const EVENT_ID_HEADER = 'X-Event-Id';
export const WEBHOOK_USER_AGENT = 'admission-alerts';
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** How much of a receiver's answer is read (and thrown away) before the connection is dropped. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface WebhookSenderOptions {
  /** the whole attempt (connect, send, answer) must finish within this; default 10 s */
  timeoutMs?: number;
  /**
   * `ALLOW_LOOPBACK_WEBHOOKS=true` (tests and demos): http and https to loopback are allowed too. Whatever it says,
   * every other non-public address is refused, at every send (CONTRACT.md "Security defaults").
   */
  allowLoopback: boolean;
  logger: Logger;
  /** the clock for the signature's `t` */
  now?: () => Date;
  /** DNS resolution at send time (tests pass a fake); default node:dns lookup of all addresses */
  resolve?: Resolver;
}

/**
 * The `X-Signature` value for a body: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
 * (CONTRACT.md "Webhook delivery"). `rawBody` must be the exact bytes sent.
 */
export function signWebhook(secret: string, rawBody: string | Buffer, t: number): string {
  return `t=${t},v1=${hmacHex(secret, rawBody, t)}`;
}

/**
 * What a receiver does with `X-Signature`: true when one of its `v1` signatures is the HMAC of `"<t>.<raw body>"`
 * with `secret` and `t` is within `toleranceSeconds` of `now` (which rejects replays of old deliveries). Compares in
 * constant time. Several `v1=` entries are allowed (a receiver rotating secrets may see more than one).
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  rawBody: string | Buffer,
  toleranceSeconds: number,
  now: Date = new Date(),
): boolean {
  if (!header) return false;
  let t: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d+$/.test(value)) t = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase());
  }
  if (t === null || signatures.length === 0) return false;
  if (Math.abs(Math.floor(now.getTime() / 1000) - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, rawBody, t), 'hex');
  return signatures.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
}

function hmacHex(secret: string, rawBody: string | Buffer, t: number): string {
  return createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest('hex');
}

/**
 * Signed webhooks to providers' systems (CONTRACT.md "Webhook delivery").
 *
 * - 2xx → `sent`; redirects are never followed (a 3xx is a failure); any other answer, a timeout or a connection
 *   error → {@link RetryableDeliveryError}, so the caller retries with backoff and the same event id.
 * - A URL the SSRF guard refuses → `rejected` (permanent). Always, whatever NODE_ENV says: the URL is checked again
 *   and the host resolved, and every address must be public (loopback too with `allowLoopback`); the connection is
 *   then made to exactly those checked addresses (no second DNS lookup, so no DNS rebinding between check and
 *   connect).
 * - Logs the URL's host, the event id and the status only: never the body (patient data), the path or the secret.
 *
 * Uses node:http(s) rather than global fetch: fetch cannot be given a `lookup`, and pinning the connection needs the
 * `undici` package for its Agent, which is not a dependency; node:http takes `lookup` directly and never follows
 * redirects.
 */
export function createWebhookSender(opts: WebhookSenderOptions): WebhookSender {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const allowLoopback = opts.allowLoopback;
  const now = opts.now ?? (() => new Date());
  const log = opts.logger;

  return {
    async send(url: string, secret: string, body: WebhookBody | OperatorMessageBody): Promise<SendOutcome> {
      const eventId = body.id;
      const check = checkWebhookUrl(url, { allowLoopback });
      if (!check.ok) {
        log.warn({ eventId, outcome: 'rejected' }, `webhook refused: ${check.reason}`);
        return { status: 'rejected', reason: check.reason };
      }
      const target = new URL(url);
      const host = target.host;
      if (secret === '') {
        const reason = 'the contact has no webhook secret, so the delivery cannot be signed';
        log.warn({ host, eventId, outcome: 'rejected' }, `webhook refused: ${reason}`);
        return { status: 'rejected', reason };
      }

      let lookup: PinnedLookup;
      try {
        lookup = pinnedLookup(await assertPublicAddress(target.hostname, { resolve: opts.resolve, allowLoopback }));
      } catch (err) {
        if (err instanceof BlockedAddressError) {
          log.warn({ host, eventId, outcome: 'rejected' }, `webhook refused: ${err.message}`);
          return { status: 'rejected', reason: err.message };
        }
        const code = (err as NodeJS.ErrnoException).code ?? 'DNS failure';
        log.warn({ host, eventId, outcome: 'retry', code }, 'webhook host did not resolve');
        throw new RetryableDeliveryError(`webhook host ${host} did not resolve (${code})`);
      }

      const rawBody = JSON.stringify(body);
      const t = Math.floor(now().getTime() / 1000);
      const headers = {
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(rawBody)),
        'User-Agent': WEBHOOK_USER_AGENT,
        [SIGNATURE_HEADER]: signWebhook(secret, rawBody, t),
        [EVENT_ID_HEADER]: eventId,
      };

      const started = Date.now();
      const result = await post(target, headers, rawBody, lookup, timeoutMs);
      const ms = Date.now() - started;
      if (result.kind === 'answered') {
        const status = result.status;
        if (status >= 200 && status < 300) {
          log.info({ host, eventId, status, ms, outcome: 'sent' }, 'webhook delivered');
          return { status: 'sent' };
        }
        log.warn({ host, eventId, status, ms, outcome: 'retry' }, 'webhook not accepted');
        if (status >= 300 && status < 400) {
          throw new RetryableDeliveryError(
            `webhook to ${host} answered HTTP ${status} (a redirect, which is not followed); delivery will be retried`,
          );
        }
        throw new RetryableDeliveryError(`webhook to ${host} answered HTTP ${status}; delivery will be retried`);
      }
      if (result.kind === 'timeout') {
        log.warn({ host, eventId, ms, outcome: 'retry' }, 'webhook timed out');
        throw new RetryableDeliveryError(`webhook to ${host} did not answer within ${timeoutMs} ms`);
      }
      log.warn({ host, eventId, ms, code: result.code, outcome: 'retry' }, 'webhook connection failed');
      throw new RetryableDeliveryError(`webhook to ${host} failed: ${result.code}`);
    },
  };
}

type PostResult = { kind: 'answered'; status: number } | { kind: 'timeout' } | { kind: 'failed'; code: string };

/** One POST; settles on the status line, then drains (at most 64 KiB of) the answer within the same deadline. */
function post(
  target: URL,
  headers: Record<string, string>,
  rawBody: string,
  lookup: PinnedLookup,
  timeoutMs: number,
): Promise<PostResult> {
  return new Promise<PostResult>((resolve) => {
    let settled = false;
    const settle = (r: PostResult): void => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const request = target.protocol === 'https:' ? https.request : http.request;
    const req = request(target, {
      method: 'POST',
      headers,
      // one connection per delivery: no pooled socket can outlive the check it was made under
      agent: false,
      lookup,
    });
    const timer = setTimeout(() => {
      settle({ kind: 'timeout' });
      req.destroy();
    }, timeoutMs);
    req.on('response', (res) => {
      settle({ kind: 'answered', status: res.statusCode ?? 0 });
      let seen = 0;
      res.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > MAX_RESPONSE_BYTES) req.destroy();
      });
      res.on('error', () => undefined);
      res.on('close', () => clearTimeout(timer));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      settle({ kind: 'failed', code: err.code ?? err.message });
    });
    req.end(rawBody);
  });
}
