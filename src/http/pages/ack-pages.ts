import express from 'express';
import type { AckOutcome, AlertKind } from '../../domain/admission-event.js';
import type { CancelsCode, DestinationCategory } from '../../domain/clinical.js';
import { ASSET_FILES, createAssetsRouter } from './assets.js';
import { CSRF_FIELD, issueCsrfToken, verifyCsrfToken } from './csrf.js';
import { createSlidingWindowLimiter } from './rate-limit.js';
import { pageSecurityHeaders } from './security-headers.js';
import {
  OUTCOMES,
  createViewEnvironment,
  formatDateTime,
  isAckOutcome,
  kindHeading,
  kindSentence,
  outcomeLabel,
} from './view.js';

/** What a link token leads to. `lookup` never changes it; `acknowledge` turns `valid` into `used`. */
export type TokenLookup =
  | { state: 'valid'; alert: AckPageAlert }
  | {
      state: 'used';
      alert?: AckPageAlert;
      acknowledgedAt?: string;
      acknowledgedBy?: string;
      /** the outcome recorded, when known */
      outcome?: AckOutcome;
    }
  | { state: 'expired' }
  | { state: 'unknown' };

/** The patient-free facts an acknowledgement page shows. No name, NHS number or ward: links get forwarded. */
export interface AckPageAlert {
  kind: AlertKind;
  hospitalName: string;
  /** the provider's own client reference, if it set one */
  clientReference?: string;
  /** when the event happened, ISO 8601 */
  occurredAt: string;
  providerName: string;
  status: 'open' | 'acknowledged' | 'unacknowledged' | 'withdrawn';
  /** pre-selected on the form (src/domain/alert-text.ts `defaultOutcome`: never "visits resumed" on doubt) */
  defaultOutcome: AckOutcome;
  /** the outcomes the form offers (a death: `care-ended` and `noted` only); default: all */
  allowedOutcomes?: readonly AckOutcome[];
  /** for a cancellation: what it cancels */
  cancels?: CancelsCode;
  /** for a discharge: where the patient went */
  destinationCategory?: DestinationCategory;
  /** the client's initials, from the provider's own registration (e.g. `M S`), if it gave a name */
  clientInitials?: string;
  /** what the person should do next, in plain words */
  advice?: string;
}

export interface AckPageDeps {
  /** What the token leads to. Must never change state: link scanners and previews open every link. */
  lookup(token: string): Promise<TokenLookup>;
  /** Acknowledges once: `used` after success, else the reason it failed (`expired`, `unknown`). */
  acknowledge(token: string, input: { outcome: AckOutcome; by: string }): Promise<TokenLookup>;
  /**
   * Limits (in memory, sliding window, unless `limiter` says otherwise): `max` requests per `windowMs` per token, `maxPerIp` (default `4 × max`) per
   * client IP (`req.ip`: set the app's `trust proxy` when behind a proxy). Default 30 per token and 120 per IP in
   * 5 minutes.
   */
  rateLimit?: { windowMs: number; max: number; maxPerIp?: number };
  /**
   * Where the hits are counted: by default this process's memory; the service passes one backed by PostgreSQL
   * (`rate_limits`), so every API process shares the budget. Keys are `ip:<ip>` and `token:<token>`.
   */
  limiter?: AckPageLimiter;
  /** HMAC key for the forms' CSRF tokens. At least 16 characters; the same in every API process. */
  csrfSecret: string;
  now?: () => Date;
  /**
   * `PUBLIC_BASE_URL`: a POST whose `Origin` is this origin is same-site even when a proxy rewrote `Host`.
   * Without it, `Origin` must match the request's `Host`.
   */
  publicBaseUrl?: string;
  /** Told about unexpected errors (the page shows a generic "problem with the service" 500). */
  onError?: (err: unknown) => void;
}

/** Counts a request against every key; refused when any key is over its `max` within the window. */
export type AckPageLimiter = (
  keys: readonly { key: string; max: number }[],
  windowMs: number,
  nowMs: number,
) => Promise<{ allowed: true } | { allowed: false; retryAfterS: number }>;

export const DEFAULT_RATE_LIMIT = { windowMs: 5 * 60 * 1000, max: 30, maxPerIp: 120 } as const;

/** Link tokens are URL-safe random strings; anything else is answered 404 without asking `lookup`. */
const TOKEN_PATTERN = /^[A-Za-z0-9_~.-]{8,256}$/;
const MAX_NAME_LENGTH = 100;

type SummaryRow = { key: { text: string }; value: { text: string } };

/**
 * The coordinator's acknowledgement pages (CONTRACT.md "Alerts and acknowledgement"), to mount at `/a`:
 *
 * - `GET /a/:token`: what happened and a form; 410 when used or expired, 404 when unknown. Never changes state.
 * - `POST /a/:token` (urlencoded `csrf`, `outcome`, `by`): acknowledges; 200 with the confirmation, 404 when unknown,
 *   410 when used or expired (checked first, as on GET), then 403 when cross-site or without a valid CSRF field,
 *   400 when the outcome is not one of CONTRACT.md's (none means the kind's default, as on the API).
 * - `GET /a/assets/...`: nhsuk-frontend's CSS, JS and images ({@link createAssetsRouter}).
 *
 * Every page is `no-store`, `noindex`, `no-referrer`, unframeable, with a nonce-based Content-Security-Policy.
 * Rate limited per token and per IP (429 with `Retry-After`).
 */
export function createAckPagesRouter(deps: AckPageDeps): express.Router {
  if (deps.csrfSecret.length < 16) throw new Error('createAckPagesRouter: csrfSecret must be at least 16 characters');
  const now = deps.now ?? (() => new Date());
  const { windowMs, max: maxPerToken } = deps.rateLimit ?? DEFAULT_RATE_LIMIT;
  const maxPerIp = deps.rateLimit?.maxPerIp ?? (deps.rateLimit ? maxPerToken * 4 : DEFAULT_RATE_LIMIT.maxPerIp);
  const memory = deps.limiter ? undefined : createSlidingWindowLimiter(windowMs);
  const limiter: AckPageLimiter = deps.limiter ?? (async (keys, _windowMs, nowMs) => memory!.hit(keys, nowMs));
  const env = createViewEnvironment();
  const publicHost = deps.publicBaseUrl ? new URL(deps.publicBaseUrl).host : undefined;

  const router = express.Router();
  router.use('/assets', createAssetsRouter());

  /** Security headers and the CSP nonce for every page. */
  router.use(pageSecurityHeaders());
  router.use('/assets', (req, res) => notFound(req, res));

  const rateLimited: express.RequestHandler<{ token: string }> = async (req, res, next) => {
    const keys = [{ key: `ip:${req.ip ?? 'unknown'}`, max: maxPerIp }];
    if (TOKEN_PATTERN.test(req.params.token)) keys.push({ key: `token:${req.params.token}`, max: maxPerToken });
    const verdict = await limiter(keys, windowMs, now().getTime());
    if (verdict.allowed) return next();
    res.set('Retry-After', String(verdict.retryAfterS));
    const minutes = Math.ceil(verdict.retryAfterS / 60);
    page(req, res, 429, 'message.njk', {
      title: 'Too many requests',
      heading: 'Sorry, there have been too many attempts',
      paragraphs: [`Wait ${minutes === 1 ? '1 minute' : `${minutes} minutes`} and try again.`],
    });
  };

  /** Renders `name` in the layout with the context every page needs. */
  function page(req: express.Request, res: express.Response, status: number, name: string, context: object): void {
    const html = env.render(name, {
      htmlLang: 'en-GB',
      assetPath: `${req.baseUrl}/assets`,
      cssUrl: `${req.baseUrl}/assets${ASSET_FILES.css}`,
      jsUrl: `${req.baseUrl}/assets${ASSET_FILES.js}`,
      cspNonce: res.locals['cspNonce'] as string | undefined,
      ...context,
    });
    res.status(status).type('html').send(html);
  }

  /** The page for a token that is not (or no longer) acknowledgeable, or the form when it is. */
  function stateOrForm(req: express.Request<{ token: string }>, res: express.Response, lookup: TokenLookup): void {
    switch (lookup.state) {
      case 'valid':
        if (lookup.alert.status === 'acknowledged') return usedPage(req, res, { state: 'used', alert: lookup.alert });
        return alertPage(req, res, 200, lookup.alert, { outcome: lookup.alert.defaultOutcome, by: '' }, {});
      case 'used':
        return usedPage(req, res, lookup);
      case 'expired':
        return page(req, res, 410, 'expired.njk', { title: 'Link expired' });
      case 'unknown':
        return notFound(req, res);
    }
  }

  function notFound(req: express.Request, res: express.Response): void {
    page(req, res, 404, 'not-found.njk', { title: 'Page not found' });
  }

  function usedPage(req: express.Request, res: express.Response, used: Extract<TokenLookup, { state: 'used' }>): void {
    const recorded: SummaryRow[] = [];
    if (used.alert?.clientInitials) recorded.push(row('Client initials', used.alert.clientInitials));
    if (used.alert?.clientReference) recorded.push(row('Client reference', used.alert.clientReference));
    if (used.outcome) recorded.push(row('Recorded', outcomeLabel(used.outcome)));
    if (used.acknowledgedBy && used.acknowledgedBy !== 'link')
      recorded.push(row('Acknowledged by', used.acknowledgedBy));
    if (used.acknowledgedAt) recorded.push(row('Acknowledged', formatDateTime(used.acknowledgedAt)));
    page(req, res, 410, 'used.njk', {
      title: 'Alert already acknowledged',
      sentence: used.alert
        ? kindSentence(used.alert.kind, used.alert.providerName, used.alert.hospitalName, used.alert)
        : undefined,
      recorded,
    });
  }

  function alertPage(
    req: express.Request<{ token: string }>,
    res: express.Response,
    status: number,
    alert: AckPageAlert,
    form: { outcome: string | undefined; by: string },
    fieldErrors: { outcome?: string; by?: string },
  ): void {
    const token = req.params.token;
    const details: SummaryRow[] = [];
    if (alert.clientInitials) details.push(row('Client initials', alert.clientInitials));
    if (alert.clientReference) details.push(row('Client reference', alert.clientReference));
    details.push(row('When', formatDateTime(alert.occurredAt)));
    details.push(row('Hospital', alert.hospitalName));
    const errors = [
      ...(fieldErrors.outcome ? [{ text: fieldErrors.outcome, href: '#outcome' }] : []),
      ...(fieldErrors.by ? [{ text: fieldErrors.by, href: '#by' }] : []),
    ];
    page(req, res, status, 'alert.njk', {
      title: kindHeading(alert.kind, alert),
      hasError: errors.length > 0,
      errors,
      fieldErrors,
      heading: kindHeading(alert.kind, alert),
      sentence: kindSentence(alert.kind, alert.providerName, alert.hospitalName, alert),
      advice: alert.advice,
      details,
      alert,
      form,
      outcomeItems: OUTCOMES.filter((o) => offered(alert, o.value)).map((o) => ({
        value: o.value,
        text: o.label,
        hint: { text: o.hint },
      })),
      formAction: `${req.baseUrl}/${encodeURIComponent(token)}`,
      csrf: issueCsrfToken(deps.csrfSecret, token, now()),
    });
  }

  /** `Sec-Fetch-Site` other than same-origin/none, or an `Origin` of another host (Fetch Metadata, RFC 6454). */
  function isCrossSite(req: express.Request): boolean {
    const site = req.get('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
    const origin = req.get('origin');
    // `Origin: null` is what browsers send for a same-origin form POST under `Referrer-Policy: no-referrer`.
    if (origin === undefined || origin === 'null') return false;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return true;
    }
    return host !== req.get('host') && host !== publicHost;
  }

  router.get('/:token', rateLimited, async (req, res) => {
    if (!TOKEN_PATTERN.test(req.params.token)) return notFound(req, res);
    stateOrForm(req, res, await deps.lookup(req.params.token));
  });

  router.post(
    '/:token',
    rateLimited,
    express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }),
    async (req: express.Request<{ token: string }>, res) => {
      const token = req.params.token;
      if (!TOKEN_PATTERN.test(token)) return notFound(req, res);
      const body = (req.body ?? {}) as Record<string, unknown>;
      // the token's state first: an unknown or altered token is 404, a used or expired one 410, as on GET; only a
      // form for a token that can still be acknowledged is checked for CSRF (403)
      const current = await deps.lookup(token);
      if (current.state !== 'valid' || current.alert.status === 'acknowledged') return stateOrForm(req, res, current);
      if (isCrossSite(req) || verifyCsrfToken(deps.csrfSecret, token, body[CSRF_FIELD], now()) !== 'ok') {
        return page(req, res, 403, 'message.njk', {
          title: 'Form not accepted',
          heading: 'Sorry, we could not accept that form',
          paragraphs: [
            'This can happen if the page was open for a long time, or if the form was sent from another website.',
            'Nothing has been recorded.',
          ],
          link: { href: `${req.baseUrl}/${encodeURIComponent(token)}`, text: 'Open the alert again' },
        });
      }

      // the form always sends one (a radio is pre-selected); a client that sends none gets the kind's default
      const outcome =
        body['outcome'] === undefined || body['outcome'] === '' ? current.alert.defaultOutcome : body['outcome'];
      const rawBy = typeof body['by'] === 'string' ? body['by'] : '';
      const by = rawBy
        .replace(/[\p{Cc}\p{Cf}]/gu, ' ')
        .replace(/\s+/g, ' ')
        .trim();
      const fieldErrors: { outcome?: string; by?: string } = {};
      const valid = isAckOutcome(outcome) && offered(current.alert, outcome);
      if (!valid) fieldErrors.outcome = 'Select what you have done about this alert';
      if (by.length > MAX_NAME_LENGTH) fieldErrors.by = `Your name must be ${MAX_NAME_LENGTH} characters or fewer`;
      if (!valid || fieldErrors.by) {
        const keep = valid ? outcome : undefined;
        return alertPage(req, res, 400, current.alert, { outcome: keep, by: rawBy }, fieldErrors);
      }

      const result = await deps.acknowledge(token, { outcome, by: by === '' ? 'link' : by });
      if (result.state === 'valid') throw new Error('acknowledge returned a still-valid token');
      if (result.state !== 'used') return stateOrForm(req, res, result);

      const alert = result.alert ?? current.alert;
      const recordedOutcome = result.outcome ?? outcome;
      const recordedBy = result.acknowledgedBy ?? (by === '' ? 'link' : by);
      const recorded: SummaryRow[] = [];
      if (alert.clientReference) recorded.push(row('Client reference', alert.clientReference));
      recorded.push(row('Outcome', outcomeLabel(recordedOutcome)));
      if (recordedBy !== 'link') recorded.push(row('Your name', recordedBy));
      recorded.push(row('Acknowledged', formatDateTime(result.acknowledgedAt ?? now().toISOString())));
      page(req, res, 200, 'confirmed.njk', {
        title: 'Alert acknowledged',
        sentence: kindSentence(alert.kind, alert.providerName, alert.hospitalName, alert),
        recorded,
      });
    },
  );

  /** Body-parser errors keep their 4xx; anything else is a 500 page (details go to `onError`, never the page). */
  router.use((err: unknown, req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (res.headersSent) return next(err);
    const status = httpStatusOf(err);
    if (status === 413) {
      return page(req, res, 413, 'message.njk', {
        title: 'Form too large',
        heading: 'Sorry, that form was too large',
        paragraphs: ['Go back, shorten what you entered and try again.'],
      });
    }
    if (status !== undefined && status >= 400 && status < 500) {
      return page(req, res, status, 'message.njk', {
        title: 'Request not accepted',
        heading: 'Sorry, we could not accept that request',
        paragraphs: ['Open the link in your alert again and try again.'],
      });
    }
    deps.onError?.(err);
    page(req, res, 500, 'message.njk', {
      title: 'Problem with the service',
      heading: 'Sorry, there is a problem with the service',
      paragraphs: [
        'Try again later.',
        'If the page then says the alert has already been acknowledged, your acknowledgement was recorded.',
      ],
    });
  });

  return router;
}

/** Whether the form offers (and accepts) this outcome for this alert. */
function offered(alert: AckPageAlert, outcome: AckOutcome): boolean {
  return alert.allowedOutcomes === undefined || alert.allowedOutcomes.includes(outcome);
}

function row(key: string, value: string): SummaryRow {
  return { key: { text: key }, value: { text: value } };
}

function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status =
    (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}
