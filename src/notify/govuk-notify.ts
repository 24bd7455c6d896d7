import { createRequire } from 'node:module';
import { NotifyClient } from 'notifications-node-client';
import type { Logger } from 'pino';
import { ChannelConfigurationError, RetryableDeliveryError } from './channel.js';
import type { NotifyHealth, NotifyPersonalisation, NotifySender, SendOutcome } from './channel.js';

/** GOV.UK Notify's production API, the client's own default. */
export const NOTIFY_DEFAULT_BASE_URL = 'https://api.notifications.service.gov.uk';
export const DEFAULT_NOTIFY_TIMEOUT_MS = 10_000;
/** The reason every send gives when no API key is configured (CONTRACT.md "Process and configuration"). */
export const NOTIFY_DISABLED_REASON = 'NOTIFY_API_KEY is not set: SMS and email are switched off';
const SMS_TEMPLATE_MISSING = 'NOTIFY_SMS_TEMPLATE_ID is not set: SMS is switched off';
const EMAIL_TEMPLATE_MISSING = 'NOTIFY_EMAIL_TEMPLATE_ID is not set: email is switched off';
const OPERATOR_TEMPLATE_MISSING = 'NOTIFY_OPERATOR_TEMPLATE_ID is not set: operator emails are switched off';
const SIGN_IN_TEMPLATE_MISSING = 'NOTIFY_SIGN_IN_TEMPLATE_ID is not set: portal sign-in codes are not emailed';
/** The personalisation keys this service fills (README "GOV.UK Notify templates"); a template may use any of them. */
export const NOTIFY_PERSONALISATION_KEYS = [
  'event',
  'kind',
  'hospital',
  'client_reference',
  'acknowledge_url',
] as const;

export interface GovukNotifyOptions {
  apiKey?: string;
  /** NOTIFY_BASE_URL: lets tests point the real client at a local fake; default Notify's production API */
  baseUrl?: string;
  smsTemplateId?: string;
  emailTemplateId?: string;
  /** email template for operator messages (personalisation `subject`, `message`, `link`) */
  operatorTemplateId?: string;
  /** email template for portal sign-in codes (personalisation `code`, `minutes`) */
  signInTemplateId?: string;
  /** a whole request must finish within this; default 10 s */
  timeoutMs?: number;
  logger: Logger;
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const API_KEY = new RegExp(`^(?:(.*)-)?(${UUID})-(${UUID})$`, 'i');

/**
 * Splits a Notify API key, `{key_name}-{iss-uuid}-{secret-uuid}` (Notify API docs, "Authorisation header"): the
 * service id signs in as the JWT `iss`, the secret signs the token (HS256). Null when the text is not a key.
 */
export function parseNotifyApiKey(apiKey: string): { keyName: string; serviceId: string; secret: string } | null {
  const m = API_KEY.exec(apiKey.trim());
  if (!m) return null;
  return { keyName: m[1] ?? '', serviceId: m[2] ?? '', secret: m[3] ?? '' };
}

/**
 * A UK mobile number in the `+447…` form Notify documents, from `07…`, `7…`, `447…`, `+447…`, `00447…` or
 * `+44 (0)7…`, ignoring spaces, dashes, dots and brackets; null when it is not a UK mobile number.
 */
export function normaliseUkMobile(phone: string): string | null {
  let digits = phone.trim().replace(/[\s\-().]/g, '');
  if (digits.startsWith('+44')) digits = digits.slice(3);
  else if (digits.startsWith('0044')) digits = digits.slice(4);
  else if (digits.startsWith('44') && digits.length >= 12) digits = digits.slice(2);
  if (digits.startsWith('0')) digits = digits.slice(1);
  return /^7\d{9}$/.test(digits) ? `+44${digits}` : null;
}

/**
 * The line to log once at start about the SMS and email channels, or null when both are fully configured.
 * Never includes the key.
 */
export function describeNotifyConfiguration(
  opts: Pick<GovukNotifyOptions, 'apiKey' | 'smsTemplateId' | 'emailTemplateId'>,
): string | null {
  if (!present(opts.apiKey)) return NOTIFY_DISABLED_REASON;
  const missing = [
    present(opts.smsTemplateId) ? null : SMS_TEMPLATE_MISSING,
    present(opts.emailTemplateId) ? null : EMAIL_TEMPLATE_MISSING,
  ].filter((m): m is string => m !== null);
  return missing.length ? missing.join('; ') : null;
}

/**
 * SMS and email through GOV.UK Notify with the official client (`notifications-node-client`).
 *
 * - No API key: `enabled` is false and every send answers `disabled`; a channel without its template id answers
 *   `disabled` too. A key that is not shaped like a Notify key throws {@link ChannelConfigurationError} at once.
 * - Notify's `reference` is the caller's delivery id, so {@link NotifySender.findByReference} can tell whether an
 *   earlier attempt was accepted.
 * - Errors, as Notify documents them: 400 (ValidationError / BadRequestError: bad number, bad template, missing
 *   personalisation, team-only key) → `rejected` with Notify's messages; 401/403 (AuthError) and 404 (wrong
 *   NOTIFY_BASE_URL) → {@link ChannelConfigurationError}; 408, 429 (RateLimitError / TooManyRequestsError), 5xx,
 *   timeouts and connection errors → {@link RetryableDeliveryError}.
 * - Logs only the channel, the reference, the outcome and Notify's error classes: never the number, the address or
 *   the personalisation (the client's errors carry the request, so they are never logged or chained as `cause`).
 */
export function createGovukNotify(opts: GovukNotifyOptions): NotifySender {
  const log = opts.logger;
  const apiKey = opts.apiKey?.trim();
  if (!apiKey) {
    const disabled = async (): Promise<SendOutcome> => ({ status: 'disabled', reason: NOTIFY_DISABLED_REASON });
    const off: NotifyHealth = { status: 'disabled', detail: NOTIFY_DISABLED_REASON };
    return {
      enabled: false,
      sendSms: disabled,
      sendEmail: disabled,
      sendOperatorEmail: disabled,
      sendSignInEmail: disabled,
      findByReference: async () => null,
      health: () => off,
      check: async () => off,
    };
  }
  if (!parseNotifyApiKey(apiKey)) {
    throw new ChannelConfigurationError(
      'NOTIFY_API_KEY is not a GOV.UK Notify API key (expected {key_name}-{service id}-{secret}, as shown once in Notify)',
    );
  }
  const baseUrl = (opts.baseUrl?.trim() || NOTIFY_DEFAULT_BASE_URL).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(baseUrl)) {
    throw new ChannelConfigurationError('NOTIFY_BASE_URL must be an http(s) URL');
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_NOTIFY_TIMEOUT_MS;
  const smsTemplateId = opts.smsTemplateId?.trim() || undefined;
  const emailTemplateId = opts.emailTemplateId?.trim() || undefined;
  const operatorTemplateId = opts.operatorTemplateId?.trim() || undefined;
  const signInTemplateId = opts.signInTemplateId?.trim() || undefined;

  const client = new NotifyClient(baseUrl, apiKey);
  client.setClient(httpClientWithDeadline(timeoutMs));

  // What Notify last said about the key, and about each channel's template; health() combines them.
  let key: { status: 'unknown' | 'ok' | 'misconfigured' | 'unreachable'; detail?: string; at?: string } = {
    status: 'unknown',
  };
  const templateIssues = new Map<Channel, string>();
  const observeKey = (status: 'ok' | 'misconfigured' | 'unreachable', detail?: string): void => {
    key = { status, ...(detail ? { detail } : {}), at: new Date().toISOString() };
  };
  const observeTemplate = (channel: Channel, problem: string | null): void => {
    if (problem) templateIssues.set(channel, problem);
    else templateIssues.delete(channel);
  };
  const switchedOff = [smsTemplateId ? null : SMS_TEMPLATE_MISSING, emailTemplateId ? null : EMAIL_TEMPLATE_MISSING]
    .filter((m): m is string => m !== null)
    .join('; ');
  const health = (): NotifyHealth => {
    const at = key.at ? { checkedAt: key.at } : {};
    if (key.status === 'misconfigured') return { status: 'misconfigured', detail: key.detail, ...at };
    if (templateIssues.size) return { status: 'misconfigured', detail: [...templateIssues.values()].join('; '), ...at };
    if (key.status === 'ok') return { status: 'ok', ...(switchedOff ? { detail: switchedOff } : {}), ...at };
    return { status: key.status, ...(key.detail ? { detail: key.detail } : {}), ...at };
  };

  const failure = (err: unknown, channel: Channel, reference: string): SendOutcome => {
    const f = classify(err, timeoutMs);
    const templateProblem = f.kind === 'rejected' && isTemplateProblem(f.message);
    const level = f.kind === 'configuration' || templateProblem ? 'error' : 'warn';
    log[level]({ channel, reference, outcome: f.kind, status: f.status, errors: f.errorClasses }, 'notify send failed');
    if (f.kind === 'configuration') observeKey('misconfigured', f.message);
    else if (f.kind === 'rejected') {
      observeKey('ok'); // Notify checks the key before it looks at the request
      if (templateProblem) observeTemplate(channel, `${templateVariable(channel)}: ${f.message}`);
    }
    switch (f.kind) {
      case 'rejected':
        return { status: 'rejected', reason: f.message };
      case 'configuration':
        throw new ChannelConfigurationError(f.message);
      case 'retryable':
        throw new RetryableDeliveryError(f.message);
      case 'unknown':
        throw err;
    }
  };

  async function email_(
    templateId: string,
    email: string,
    personalisation: Record<string, string>,
    reference: string,
  ): Promise<SendOutcome> {
    try {
      const res = await client.sendEmail(templateId, email.trim(), { personalisation, reference });
      observeKey('ok');
      if (templateId === emailTemplateId) observeTemplate('email', null);
      log.info({ channel: 'email', reference, outcome: 'sent', notificationId: res.data.id }, 'notify accepted');
      return { status: 'sent', providerId: res.data.id };
    } catch (err) {
      return failure(err, 'email', reference);
    }
  }

  return {
    enabled: true,

    async sendSms(phoneNumber, personalisation, reference) {
      if (!smsTemplateId) return { status: 'disabled', reason: SMS_TEMPLATE_MISSING };
      // Numbers that are not UK mobiles go as given: Notify decides (international sending is a service setting).
      const to = normaliseUkMobile(phoneNumber) ?? phoneNumber.trim();
      try {
        const res = await client.sendSms(smsTemplateId, to, { personalisation: asRecord(personalisation), reference });
        observeKey('ok');
        observeTemplate('sms', null);
        log.info({ channel: 'sms', reference, outcome: 'sent', notificationId: res.data.id }, 'notify accepted');
        return { status: 'sent', providerId: res.data.id };
      } catch (err) {
        return failure(err, 'sms', reference);
      }
    },

    async sendEmail(email, personalisation, reference) {
      if (!emailTemplateId) return { status: 'disabled', reason: EMAIL_TEMPLATE_MISSING };
      return email_(emailTemplateId, email, asRecord(personalisation), reference);
    },

    async sendOperatorEmail(email, personalisation, reference) {
      if (!operatorTemplateId) return { status: 'disabled', reason: OPERATOR_TEMPLATE_MISSING };
      return email_(operatorTemplateId, email, { ...personalisation }, reference);
    },

    async sendSignInEmail(email, personalisation, reference) {
      if (!signInTemplateId) return { status: 'disabled', reason: SIGN_IN_TEMPLATE_MISSING };
      return email_(signInTemplateId, email, { ...personalisation }, reference);
    },

    async findByReference(reference, type) {
      try {
        const res = await client.getNotifications(type, undefined, reference, undefined);
        const first = res.data.notifications[0];
        return first ? { id: first.id } : null;
      } catch (err) {
        const f = classify(err, timeoutMs);
        if (f.status === 400 || f.status === 404 || f.status === 405) {
          // Notify cannot answer this query (a query it refuses, or an API without the list endpoint). Sending
          // without knowing risks a duplicate; not sending risks nobody being told, which is worse for an alert.
          log.warn({ channel: type, reference, status: f.status }, 'notify lookup unavailable: sending without it');
          return null;
        }
        log[f.kind === 'configuration' ? 'error' : 'warn'](
          { channel: type, reference, outcome: f.kind, status: f.status },
          'notify lookup failed',
        );
        if (f.kind === 'configuration') {
          observeKey('misconfigured', f.message);
          throw new ChannelConfigurationError(f.message);
        }
        if (f.kind === 'unknown') throw err;
        throw new RetryableDeliveryError(`looking up reference in GOV.UK Notify failed: ${f.message}`);
      }
    },

    health,

    async check() {
      try {
        // with no template configured, any authenticated read proves the key
        if (!smsTemplateId && !emailTemplateId) {
          await client.getNotifications('sms', undefined, `health-check-${Date.now()}`, undefined);
        }
        for (const [channel, id] of [
          ['sms', smsTemplateId],
          ['email', emailTemplateId],
        ] as const) {
          if (!id) continue;
          let problems: string[];
          try {
            const res = await client.getTemplateById(id);
            problems = templateProblems(channel, res.data);
          } catch (err) {
            const f = classify(err, timeoutMs);
            // 400 (not a UUID) and 404 NoResultFound (no such template in this service): the template id is wrong
            const noSuchTemplate = f.status === 400 || (f.status === 404 && f.errorClasses?.includes('NoResultFound'));
            if (f.status === 404 && !noSuchTemplate) continue; // this API cannot show templates: no verdict
            if (!noSuchTemplate) throw err;
            const said = f.errorClasses?.length ? ` ${f.errorClasses.join(', ')}` : '';
            problems = [
              `${templateVariable(channel)} is not a template of this GOV.UK Notify service (Notify answered ${f.status}${said})`,
            ];
          }
          observeKey('ok');
          observeTemplate(channel, problems.length ? problems.join('; ') : null);
          if (problems.length) log.debug({ channel, problems }, 'notify template does not fit this service');
        }
      } catch (err) {
        const f = classify(err, timeoutMs);
        observeKey(f.kind === 'configuration' ? 'misconfigured' : 'unreachable', f.message);
        log.debug({ outcome: f.kind, status: f.status }, 'notify check failed');
      }
      return health();
    },
  };
}

/**
 * How `/health/ready` reports Notify without waiting on it: the latest observation at once, and a fresh check in
 * the background when that observation is older than `maxAgeMs` (default 60 s).
 */
export function notifyHealthReporter(sender: NotifySender, maxAgeMs = 60_000): () => NotifyHealth {
  let checking: Promise<unknown> | null = null;
  return () => {
    const h = sender.health();
    const age = h.checkedAt ? Date.now() - Date.parse(h.checkedAt) : Infinity;
    if (h.status !== 'disabled' && age > maxAgeMs && !checking) {
      checking = sender.check().finally(() => {
        checking = null;
      });
    }
    return h;
  };
}

/**
 * At start: asks Notify whether the key and templates are accepted (waiting at most `waitMs`, default 5 s, so a
 * slow Notify never delays start for long) and logs one error line naming the problem when they are not.
 */
export async function checkNotifyAtStart(sender: NotifySender, logger: Logger, waitMs = 5_000): Promise<void> {
  if (!sender.enabled) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), waitMs);
  });
  const h = await Promise.race([sender.check(), late]).finally(() => clearTimeout(timer));
  if (h?.status === 'misconfigured') {
    logger.error({ notify: h.detail }, `GOV.UK Notify is misconfigured, SMS and email will fail: ${h.detail ?? ''}`);
  } else if (h?.status === 'unreachable') {
    logger.warn({ notify: h.detail }, 'GOV.UK Notify did not answer at start; SMS and email will be retried');
  }
}

/** Notify's 400s that mean the template (not the recipient) does not fit: configuration, not data. */
function isTemplateProblem(message: string): boolean {
  return /template not found|template is not suitable|missing personalisation/i.test(message);
}

function templateVariable(channel: Channel): string {
  return channel === 'sms' ? 'NOTIFY_SMS_TEMPLATE_ID' : 'NOTIFY_EMAIL_TEMPLATE_ID';
}

/**
 * What is wrong with a template for this service: the wrong type, or a placeholder this service does not fill
 * (every send would fail 400 "Missing personalisation"). Optional content `((name??text))` counts as `name`.
 */
export function templateProblems(
  channel: Channel,
  template: { type?: unknown; body?: unknown; subject?: unknown },
): string[] {
  const problems: string[] = [];
  const variable = templateVariable(channel);
  if (template.type !== channel) {
    problems.push(`${variable} is a ${String(template.type)} template, not ${channel}`);
  }
  const text = [template.body, template.subject].filter((t): t is string => typeof t === 'string').join('\n');
  const known = new Set<string>(NOTIFY_PERSONALISATION_KEYS);
  const unknown = new Set<string>();
  for (const m of text.matchAll(/\(\(([^()]+)\)\)/g)) {
    const name = (m[1] ?? '').split('??')[0]!.replace(/\s/g, '').toLowerCase();
    if (!known.has(name)) unknown.add(name);
  }
  if (unknown.size) {
    problems.push(
      `${variable} uses ${[...unknown].map((u) => `((${u}))`).join(', ')}, which this service does not fill (it fills ${NOTIFY_PERSONALISATION_KEYS.join(', ')})`,
    );
  }
  return problems;
}

type Channel = 'sms' | 'email';

interface Classified {
  kind: 'rejected' | 'configuration' | 'retryable' | 'unknown';
  message: string;
  status?: number;
  errorClasses?: string[];
}

/** Maps the client's (axios) errors onto Notify's documented error classes. */
function classify(err: unknown, timeoutMs: number): Classified {
  if (!isAxiosError(err)) return { kind: 'unknown', message: String(err) };
  const status = err.response?.status;
  if (status === undefined) {
    const code = err.code ?? 'network error';
    const timedOut = code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED';
    return {
      kind: 'retryable',
      message: timedOut
        ? `GOV.UK Notify did not answer within ${timeoutMs} ms`
        : `could not reach GOV.UK Notify (${code})`,
    };
  }
  const errors = notifyErrors(err.response?.data);
  const errorClasses = [...new Set(errors.map((e) => e.error))];
  const said = errors.map((e) => e.message).join('; ');
  const detail = `${status}${errorClasses.length ? ` ${errorClasses.join(', ')}` : ''}${said ? `: ${said}` : ''}`;
  if (status === 400) return { kind: 'rejected', message: said || 'GOV.UK Notify answered 400', status, errorClasses };
  if (status === 401 || status === 403) {
    return {
      kind: 'configuration',
      message: `GOV.UK Notify refused the API key (${detail}); check NOTIFY_API_KEY and the system clock`,
      status,
      errorClasses,
    };
  }
  if (status === 404 || status === 405 || (status >= 300 && status < 400)) {
    return {
      kind: 'configuration',
      message: `GOV.UK Notify answered ${detail}; check NOTIFY_BASE_URL`,
      status,
      errorClasses,
    };
  }
  if (status === 408 || status === 429 || status >= 500) {
    return { kind: 'retryable', message: `GOV.UK Notify answered ${detail}`, status, errorClasses };
  }
  return { kind: 'rejected', message: `GOV.UK Notify answered ${detail}`, status, errorClasses };
}

/** Notify's error body: `{status_code, errors: [{error, message}]}`. */
function notifyErrors(data: unknown): { error: string; message: string }[] {
  if (typeof data !== 'object' || data === null || !('errors' in data) || !Array.isArray(data.errors)) return [];
  return data.errors.flatMap((e: unknown) => {
    if (typeof e !== 'object' || e === null) return [];
    const error = 'error' in e && typeof e.error === 'string' ? e.error : '';
    const message = 'message' in e && typeof e.message === 'string' ? e.message : '';
    return error || message ? [{ error, message }] : [];
  });
}

/** The parts of an axios error this module reads. */
interface HttpClientError {
  isAxiosError: true;
  code?: string;
  response?: { status: number; data: unknown };
}

function isAxiosError(err: unknown): err is HttpClientError {
  return typeof err === 'object' && err !== null && (err as { isAxiosError?: unknown }).isAxiosError === true;
}

/**
 * The axios instance the Notify client sends with, with a deadline: `timeout` (no answer within it) plus an abort
 * signal per request (the whole request within it, even if the server trickles bytes). axios is loaded from where
 * the Notify client resolves it, so it is the very copy the client was built against, not an undeclared dependency.
 */
function httpClientWithDeadline(timeoutMs: number): HttpClient {
  const requireFromClient = createRequire(createRequire(import.meta.url).resolve('notifications-node-client'));
  const axios = requireFromClient('axios') as { create(config: { timeout: number; maxRedirects: number }): HttpClient };
  const instance = axios.create({ timeout: timeoutMs, maxRedirects: 0 });
  instance.interceptors.request.use((config) => {
    config.signal ??= AbortSignal.timeout(timeoutMs);
    return config;
  });
  return instance;
}

/** The axios instance type exactly as the Notify client declares it (its CommonJS view of axios's types). */
type HttpClient = Parameters<NotifyClient['setClient']>[0];

function asRecord(p: NotifyPersonalisation): Record<string, string> {
  return {
    event: p.event,
    kind: p.kind,
    hospital: p.hospital,
    client_reference: p.client_reference,
    acknowledge_url: p.acknowledge_url,
  };
}

function present(v: string | undefined): boolean {
  return v !== undefined && v.trim() !== '';
}
