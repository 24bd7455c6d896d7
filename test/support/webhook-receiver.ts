import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A provider's webhook endpoint for tests: a real HTTP server on 127.0.0.1, port 0, that records every request and
 * checks its `X-Signature` the way CONTRACT.md "Webhook delivery" tells receivers to (HMAC-SHA256 over
 * `"<t>.<raw body>"`, computed here independently of src/notify/webhook.ts, so a test proves the sender follows the
 * contract rather than agreeing with itself).
 */

export interface ReceivedWebhook {
  method: string;
  /** path and query, e.g. `/hooks/provider-1` */
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** the parsed JSON body, or undefined when it is not JSON */
  body: unknown;
  /** null when no secret is known for the path */
  signatureValid: boolean | null;
  /** the status this receiver answered */
  status: number;
  receivedAt: Date;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  /** the URL of a path on this receiver (default `/webhook`) */
  url(path?: string): string;
  /** the secret to verify requests to `path` with (overrides the default secret) */
  setSecret(path: string, secret: string): void;
  /**
   * The next `count` requests (to `opts.path` only, when given) are answered `status`; a 3xx carries
   * `Location: opts.location` (default: this receiver's `/redirected`).
   */
  failNext(status: number, count?: number, opts?: { path?: string; location?: string }): void;
  /** the next `count` requests are answered `ms` late */
  delayNext(ms: number, count?: number): void;
  /** every request, oldest first; only those to `path` when given */
  received(path?: string): ReceivedWebhook[];
  /** polls until a request matches (default: any request), or rejects after `timeoutMs` */
  waitFor(predicate?: (r: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook>;
  clear(): void;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1, port 0. `secret` verifies every path without its own secret. */
export async function startWebhookReceiver(
  opts: { secret?: string; toleranceSeconds?: number } = {},
): Promise<WebhookReceiver> {
  const tolerance = opts.toleranceSeconds ?? 300;
  const secrets = new Map<string, string>();
  const requests: ReceivedWebhook[] = [];
  const failures: { status: number; path?: string; location?: string }[] = [];
  const delays: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let baseUrl = '';

  const pathOnly = (p: string): string => p.split('?')[0] ?? p;
  const secretFor = (path: string): string | undefined => secrets.get(pathOnly(path)) ?? opts.secret;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      let body: unknown;
      try {
        body = JSON.parse(rawBody) as unknown;
      } catch {
        body = undefined;
      }
      const secret = secretFor(path);
      const header = req.headers['x-signature'];
      const signatureValid =
        secret === undefined ? null : verify(secret, Array.isArray(header) ? header[0] : header, rawBody, tolerance);
      const at = failures.findIndex((f) => f.path === undefined || f.path === pathOnly(path));
      const failure = at >= 0 ? failures.splice(at, 1)[0] : undefined;
      const status = failure?.status ?? 200;
      requests.push({
        method: req.method ?? 'GET',
        path,
        headers: req.headers,
        rawBody,
        body,
        signatureValid,
        status,
        receivedAt: new Date(),
      });
      const answer = (): void => {
        if (res.destroyed) return;
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (status >= 300 && status < 400) headers.Location = failure?.location ?? `${baseUrl}/redirected`;
        res.writeHead(status, headers);
        res.end(JSON.stringify({ received: status >= 200 && status < 300 }));
      };
      const delay = delays.shift();
      if (delay === undefined) answer();
      else {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer();
        }, delay);
        timers.add(timer);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const received = (path?: string): ReceivedWebhook[] =>
    path === undefined ? [...requests] : requests.filter((r) => pathOnly(r.path) === pathOnly(path));

  return {
    baseUrl,
    url: (path = '/webhook') => `${baseUrl}${path.startsWith('/') ? path : `/${path}`}`,
    setSecret(path, secret) {
      secrets.set(pathOnly(path.startsWith('/') ? path : `/${path}`), secret);
    },
    failNext(status, count = 1, o = {}) {
      for (let i = 0; i < count; i++) failures.push({ status, ...o });
    },
    delayNext(ms, count = 1) {
      for (let i = 0; i < count; i++) delays.push(ms);
    },
    received,
    async waitFor(predicate = () => true, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = requests.find(predicate);
        if (hit) return hit;
        if (Date.now() >= deadline) {
          throw new Error(`no matching webhook within ${timeoutMs} ms (${requests.length} received)`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    clear() {
      requests.length = 0;
      failures.length = 0;
      delays.length = 0;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The receiver's side of CONTRACT.md "Webhook delivery": `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
function verify(secret: string, header: string | undefined, rawBody: string, toleranceSeconds: number): boolean {
  const m = header ? /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) : null;
  if (!m?.[1] || !m[2]) return false;
  const t = Number(m[1]);
  if (Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest();
  const given = Buffer.from(m[2], 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
