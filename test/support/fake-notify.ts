import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local GOV.UK Notify: a real HTTP server on 127.0.0.1 that speaks the parts of the v2 API this service uses, so
 * tests drive the real `notifications-node-client` over a socket (NOTIFY_BASE_URL = `fake.baseUrl`).
 *
 * Faithful where it matters to callers (Notify API docs, "REST API" and "Error messages"):
 * - JWT authorisation: `Authorization: Bearer <jwt>`, HS256 with the key's secret, `iss` = the service id, `iat`
 *   within 30 seconds of now; otherwise 403 AuthError (401 when the header is missing).
 * - POST /v2/notifications/sms and /email: schema checks (required fields, template_id a UUID, UK mobile numbers,
 *   email addresses) → 400 ValidationError; unknown template, wrong template type, missing personalisation,
 *   international numbers → 400 BadRequestError; else 201 with Notify's response body.
 *   Unknown request fields → 400 ValidationError "Additional properties are not allowed" (the v2 schemas say
 *   `additionalProperties: False`).
 * - GET /v2/notifications (reference, template_type, status, older_than), GET /v2/notifications/{id} and
 *   GET /v2/template/{id} (404 NoResultFound for a template the service does not have).
 * Notifications are `delivered` at once, as with a Notify test key.
 */

export type FakeNotifyFailure = 400 | 403 | 429 | 500;

export interface FakeTemplate {
  id: string;
  type: 'sms' | 'email';
  version: number;
  /** the body, with Notify placeholders `((name))` */
  body: string;
  /** email only */
  subject?: string;
}

interface FakeNotificationBase {
  id: string;
  reference: string | null;
  templateId: string;
  templateVersion: number;
  personalisation: Record<string, unknown>;
  /** the template rendered with the personalisation, as the recipient would read it */
  body: string;
  createdAt: string;
  status: string;
}

export interface FakeSms extends FakeNotificationBase {
  type: 'sms';
  /** as the caller sent it */
  phoneNumber: string;
}

export interface FakeEmail extends FakeNotificationBase {
  type: 'email';
  emailAddress: string;
  subject: string;
}

export type FakeNotification = FakeSms | FakeEmail;

/** One request the fake answered, in order. */
export interface FakeNotifyRequest {
  method: string;
  path: string;
  status: number;
  /** Notify's error classes in the answer, e.g. ['AuthError'] */
  errors: string[];
}

export interface FakeNotify {
  /** NOTIFY_BASE_URL for the client: `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  readonly serviceId: string;
  /** a valid key for this service: `{key_name}-{serviceId}-{secret}` */
  readonly apiKey: string;
  /** an SMS template: `((event)) at ((hospital)). Ref: ((client_reference)). Acknowledge: ((acknowledge_url))` */
  readonly smsTemplateId: string;
  /** an email template with the same placeholders */
  readonly emailTemplateId: string;
  /** every accepted text message, oldest first */
  readonly sms: FakeSms[];
  /** every accepted email, oldest first */
  readonly emails: FakeEmail[];
  /** every request answered, including refused ones */
  readonly requests: FakeNotifyRequest[];
  /**
   * The next `count` API requests (any endpoint, or only those to `path`, e.g. `/v2/notifications/sms`) answer
   * `status` with Notify's error body for it (`message` replaces Notify's default message).
   */
  failNext(status: FakeNotifyFailure, count?: number, opts?: string | { message?: string; path?: string }): void;
  /**
   * The next `count` requests are handled normally (a send is recorded, i.e. Notify accepted it) but answered `ms`
   * later: a client with a shorter timeout sees a timeout for a message Notify did accept.
   */
  delayNext(ms: number, count?: number): void;
  /**
   * Called for each accepted notification after it is recorded and before the 201 is written (awaited): the moment
   * "Notify accepted, caller does not know yet", e.g. to stop a worker there. A throw answers 500.
   */
  onSend(hook: ((n: FakeNotification) => void | Promise<void>) | null): void;
  /** adds a template and returns its id */
  addTemplate(template: Omit<FakeTemplate, 'id' | 'version'> & { id?: string }): string;
  /** forgets recorded notifications, requests and pending failures and delays */
  reset(): void;
  close(): Promise<void>;
}

export const FAKE_SMS_TEMPLATE =
  '((event)) at ((hospital)). Ref: ((client_reference)). Acknowledge: ((acknowledge_url))';
export const FAKE_EMAIL_SUBJECT = 'Your client was ((event))';
export const FAKE_EMAIL_TEMPLATE =
  'Your client was ((event)) at ((hospital)).\n\nYour reference: ((client_reference))\n\nAcknowledge: ((acknowledge_url))';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATUSES = [
  'cancelled',
  'created',
  'sending',
  'sent',
  'delivered',
  'pending',
  'failed',
  'technical-failure',
  'temporary-failure',
  'permanent-failure',
  'pending-virus-check',
  'validation-failed',
  'virus-scan-failed',
  'returned-letter',
  'accepted',
  'received',
];
const PAGE_SIZE = 250;
/** The request fields Notify's v2 schemas allow (post_sms_request / post_email_request). */
const SMS_FIELDS = new Set([
  'reference',
  'phone_number',
  'template_id',
  'personalisation',
  'scheduled_for',
  'sms_sender_id',
]);
const EMAIL_FIELDS = new Set([
  'reference',
  'email_address',
  'template_id',
  'personalisation',
  'scheduled_for',
  'email_reply_to_id',
  'one_click_unsubscribe_url',
]);

/** Notify's documented error for each programmable failure. */
const FAILURES: Record<FakeNotifyFailure, { error: string; message: string }> = {
  400: { error: 'BadRequestError', message: "Can't send to this recipient using a team-only API key" },
  403: { error: 'AuthError', message: 'Invalid token: API key not found' },
  429: { error: 'RateLimitError', message: 'Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds' },
  500: { error: 'Exception', message: 'Internal server error' },
};

class NotifyHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: { error: string; message: string }[],
  ) {
    super(errors.map((e) => e.message).join('; '));
  }
}

const fail = (status: number, error: string, message: string): NotifyHttpError =>
  new NotifyHttpError(status, [{ error, message }]);

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeNotify(
  opts: { serviceId?: string; secret?: string; keyName?: string } = {},
): Promise<FakeNotify> {
  const serviceId = opts.serviceId ?? randomUUID();
  const secret = opts.secret ?? randomUUID();
  const keyName = opts.keyName ?? 'fake_live_key';
  const templates = new Map<string, FakeTemplate>();
  const sms: FakeSms[] = [];
  const emails: FakeEmail[] = [];
  const all: FakeNotification[] = [];
  const requests: FakeNotifyRequest[] = [];
  const failures: { status: FakeNotifyFailure; message?: string; path?: string }[] = [];
  const delays: number[] = [];
  const sleeping = new Set<() => void>();
  let hook: ((n: FakeNotification) => void | Promise<void>) | null = null;
  let baseUrl = '';
  const createdAt = new Date().toISOString();

  const addTemplate = (t: Omit<FakeTemplate, 'id' | 'version'> & { id?: string }): string => {
    const id = t.id ?? randomUUID();
    templates.set(id, { ...t, id, version: 1 });
    return id;
  };
  const smsTemplateId = addTemplate({ type: 'sms', body: FAKE_SMS_TEMPLATE });
  const emailTemplateId = addTemplate({ type: 'email', subject: FAKE_EMAIL_SUBJECT, body: FAKE_EMAIL_TEMPLATE });

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        sleeping.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleeping.add(wake);
    });

  /** Notify's JWT check (notifications-api app/authentication/auth.py). */
  const authenticate = (req: IncomingMessage): void => {
    const header = req.headers.authorization;
    if (!header) throw fail(401, 'AuthError', 'Unauthorized: authentication token must be provided');
    if (header.slice(0, 7).toLowerCase() !== 'bearer ') {
      throw fail(401, 'AuthError', 'Unauthorized: authentication bearer scheme must be used');
    }
    const parts = header.slice(7).trim().split('.');
    const [h = '', p = '', sig = ''] = parts;
    const invalid = fail(403, 'AuthError', 'Invalid token: signature, api token is not valid');
    if (parts.length !== 3) throw invalid;
    let jwtHeader: { alg?: unknown };
    let claims: { iss?: unknown; iat?: unknown };
    try {
      jwtHeader = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown };
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { iss?: unknown; iat?: unknown };
    } catch {
      throw invalid;
    }
    if (jwtHeader.alg !== 'HS256') throw invalid;
    if (typeof claims.iss !== 'string' || claims.iss === '') {
      throw fail(403, 'AuthError', 'Invalid token: iss field not provided');
    }
    if (!UUID_RE.test(claims.iss)) throw fail(403, 'AuthError', 'Invalid token: service id is not the right data type');
    if (claims.iss !== serviceId) throw fail(403, 'AuthError', 'Invalid token: service not found');
    const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest();
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw fail(403, 'AuthError', 'Invalid token: API key not found');
    }
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.iat !== 'number' || Math.abs(now - claims.iat) > 30) {
      throw fail(403, 'AuthError', 'Error: Your system clock must be accurate to within 30 seconds');
    }
  };

  const send = async (type: 'sms' | 'email', body: unknown): Promise<object> => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw fail(400, 'ValidationError', 'Invalid JSON supplied in POST data');
    }
    const b = body as Record<string, unknown>;
    const recipientField = type === 'sms' ? 'phone_number' : 'email_address';
    const problems: string[] = [];
    let international = false;
    if (b.template_id === undefined) problems.push('template_id is a required property');
    else if (typeof b.template_id !== 'string' || !UUID_RE.test(b.template_id)) {
      problems.push('template_id is not a valid UUID');
    }
    const recipient = b[recipientField];
    if (recipient === undefined) problems.push(`${recipientField} is a required property`);
    else if (typeof recipient !== 'string')
      problems.push(`${recipientField} ${JSON.stringify(recipient)} is not of type string`);
    else if (type === 'sms') {
      const verdict = checkPhoneNumber(recipient);
      if (verdict === 'international') international = true;
      else if (verdict !== 'ok') problems.push(`phone_number ${verdict}`);
    } else if (!/^[^\s@]+@[^\s@]+\.[^\s@.]{2,}$/.test(recipient.trim())) {
      problems.push('email_address Not a valid email address');
    }
    if (
      b.personalisation !== undefined &&
      (typeof b.personalisation !== 'object' || b.personalisation === null || Array.isArray(b.personalisation))
    ) {
      problems.push('personalisation should be type object');
    }
    if (b.reference !== undefined && b.reference !== null && typeof b.reference !== 'string') {
      problems.push(`reference ${JSON.stringify(b.reference)} is not of type string`);
    }
    const allowed = type === 'sms' ? SMS_FIELDS : EMAIL_FIELDS;
    const extra = Object.keys(b).filter((k) => !allowed.has(k));
    if (extra.length) {
      problems.push(
        `Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(', ')} ${extra.length === 1 ? 'was' : 'were'} unexpected)`,
      );
    }
    if (problems.length) {
      throw new NotifyHttpError(
        400,
        problems.map((message) => ({ error: 'ValidationError', message })),
      );
    }
    const template = templates.get(b.template_id as string);
    if (!template) throw fail(400, 'BadRequestError', 'Template not found');
    if (template.type !== type) {
      throw fail(400, 'BadRequestError', `${template.type} template is not suitable for ${type} notification`);
    }
    if (international) throw fail(400, 'BadRequestError', 'Cannot send to international mobile numbers');
    const personalisation = (b.personalisation ?? {}) as Record<string, unknown>;
    const rendered = render(template.body, personalisation);
    const subject = template.subject !== undefined ? render(template.subject, personalisation) : undefined;
    const missing = [...new Set([...rendered.missing, ...(subject?.missing ?? [])])];
    if (missing.length) throw fail(400, 'BadRequestError', `Missing personalisation: ${missing.join(', ')}`);

    const common = {
      id: randomUUID(),
      reference: typeof b.reference === 'string' ? b.reference : null,
      templateId: template.id,
      templateVersion: template.version,
      personalisation,
      body: rendered.text,
      createdAt: new Date().toISOString(),
      status: 'delivered',
    };
    const n: FakeNotification =
      type === 'sms'
        ? { ...common, type: 'sms', phoneNumber: recipient as string }
        : { ...common, type: 'email', emailAddress: recipient as string, subject: subject?.text ?? '' };
    all.push(n);
    if (n.type === 'sms') sms.push(n);
    else emails.push(n);
    if (hook) {
      try {
        await hook(n);
      } catch {
        throw fail(500, 'Exception', 'Internal server error');
      }
    }
    const templateRef = { id: template.id, version: template.version, uri: templateUri(template.id) };
    const uri = `${baseUrl}/v2/notifications/${n.id}`;
    return n.type === 'sms'
      ? {
          id: n.id,
          reference: n.reference,
          content: { body: n.body, from_number: 'GOVUK' },
          uri,
          template: templateRef,
        }
      : {
          id: n.id,
          reference: n.reference,
          content: {
            subject: n.subject,
            body: n.body,
            from_email: 'admission.alerts@notifications.service.gov.uk',
            one_click_unsubscribe_url: null,
          },
          uri,
          template: templateRef,
        };
  };

  const templateUri = (id: string): string => `${baseUrl}/services/${serviceId}/templates/${id}`;

  /** GET /v2/template/{id}: Notify's template resource (Template.serialize_for_v2). */
  const templateResource = (t: FakeTemplate): object => ({
    id: t.id,
    type: t.type,
    created_at: createdAt,
    updated_at: null,
    created_by: 'fake-notify@example.gov.uk',
    version: t.version,
    body: t.body,
    subject: t.type === 'email' ? (t.subject ?? '') : null,
    name: `${t.type} template ${t.id.slice(0, 8)}`,
    personalisation: Object.fromEntries(
      placeholders(`${t.subject ?? ''}\n${t.body}`).map((name) => [name, { required: true }]),
    ),
    letter_contact_block: null,
    postage: null,
  });

  /** GET /v2/notifications/{id} and the list items: Notify's notification resource. */
  const resource = (n: FakeNotification): object => ({
    id: n.id,
    reference: n.reference,
    email_address: n.type === 'email' ? n.emailAddress : null,
    phone_number: n.type === 'sms' ? n.phoneNumber : null,
    line_1: null,
    line_2: null,
    line_3: null,
    line_4: null,
    line_5: null,
    line_6: null,
    postcode: null,
    type: n.type,
    status: n.status,
    template: { id: n.templateId, version: n.templateVersion, uri: templateUri(n.templateId) },
    body: n.body,
    subject: n.type === 'email' ? n.subject : null,
    created_at: n.createdAt,
    created_by_name: null,
    sent_at: n.createdAt,
    completed_at: n.createdAt,
    scheduled_for: null,
    postage: null,
    one_click_unsubscribe_url: null,
    is_cost_data_ready: true,
    cost_in_pounds: n.type === 'sms' ? 0.0197 : 0,
    cost_details:
      n.type === 'sms' ? { billable_sms_fragments: 1, international_rate_multiplier: 1, sms_rate: 0.0197 } : {},
  });

  const list = (url: URL): object => {
    const q = url.searchParams;
    const types = q.getAll('template_type');
    for (const t of types) {
      if (!['sms', 'email', 'letter'].includes(t)) {
        throw fail(400, 'ValidationError', `template_type ${t} is not one of [sms, email, letter]`);
      }
    }
    const statuses = q.getAll('status');
    for (const s of statuses) {
      if (!STATUSES.includes(s))
        throw fail(400, 'ValidationError', `status ${s} is not one of [${STATUSES.join(', ')}]`);
    }
    const reference = q.get('reference');
    const olderThan = q.get('older_than');
    let found = [...all].reverse(); // newest first, as Notify answers
    if (olderThan) {
      const at = found.findIndex((n) => n.id === olderThan);
      found = at < 0 ? [] : found.slice(at + 1);
    }
    found = found.filter(
      (n) =>
        (reference === null || n.reference === reference) &&
        (types.length === 0 || types.includes(n.type)) &&
        (statuses.length === 0 || statuses.includes(n.status)),
    );
    const page = found.slice(0, PAGE_SIZE);
    const last = page[page.length - 1];
    const next = new URL(url.toString());
    if (last) next.searchParams.set('older_than', last.id);
    return {
      notifications: page.map(resource),
      links: {
        current: `${baseUrl}${url.pathname}${url.search}`,
        ...(last ? { next: `${baseUrl}${next.pathname}${next.search}` } : {}),
      },
    };
  };

  const route = async (method: string, url: URL, body: unknown): Promise<{ status: number; json: object }> => {
    const path = url.pathname.replace(/\/+$/, '');
    if (method === 'POST' && path === '/v2/notifications/sms') return { status: 201, json: await send('sms', body) };
    if (method === 'POST' && path === '/v2/notifications/email')
      return { status: 201, json: await send('email', body) };
    if (method === 'GET' && path === '/v2/notifications') return { status: 200, json: list(url) };
    const tpl = /^\/v2\/template\/([^/]+)$/.exec(path);
    if (method === 'GET' && tpl) {
      const id = decodeURIComponent(tpl[1] ?? '');
      if (!UUID_RE.test(id)) throw fail(400, 'ValidationError', 'id is not a valid UUID');
      const t = templates.get(id);
      if (!t) throw fail(404, 'NoResultFound', 'No result found');
      return { status: 200, json: templateResource(t) };
    }
    const one = /^\/v2\/notifications\/([^/]+)$/.exec(path);
    if (method === 'GET' && one) {
      const id = decodeURIComponent(one[1] ?? '');
      if (!UUID_RE.test(id)) throw fail(400, 'ValidationError', 'notification_id is not a valid UUID');
      const n = all.find((x) => x.id === id);
      if (!n) throw fail(404, 'NoResultFound', 'No result found');
      return { status: 200, json: resource(n) };
    }
    throw fail(404, 'NotFound', 'The requested URL was not found on the server.');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake-notify');
    const raw = await readBody(req);
    const delay = delays.shift();
    let status: number;
    let json: object;
    try {
      const at = failures.findIndex((f) => f.path === undefined || f.path === url.pathname);
      const forced = at >= 0 ? failures.splice(at, 1)[0] : undefined;
      if (forced) {
        const f = FAILURES[forced.status];
        throw fail(forced.status, f.error, forced.message ?? f.message);
      }
      authenticate(req);
      let body: unknown = undefined;
      if (raw.length) {
        try {
          body = JSON.parse(raw) as unknown;
        } catch {
          throw fail(400, 'BadRequestError', 'Invalid JSON supplied in POST data');
        }
      }
      ({ status, json } = await route(req.method ?? 'GET', url, body));
    } catch (err) {
      const e = err instanceof NotifyHttpError ? err : fail(500, 'Exception', 'Internal server error');
      status = e.status;
      json = { status_code: e.status, errors: e.errors };
    }
    const errors =
      'errors' in json && Array.isArray(json.errors) ? (json.errors as { error: string }[]).map((e) => e.error) : [];
    requests.push({ method: req.method ?? 'GET', path: url.pathname, status, errors });
    if (delay !== undefined) await sleep(delay);
    if (res.destroyed) return;
    const text = JSON.stringify(json);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    baseUrl,
    serviceId,
    apiKey: `${keyName}-${serviceId}-${secret}`,
    smsTemplateId,
    emailTemplateId,
    sms,
    emails,
    requests,
    failNext(status, count = 1, opts) {
      const o = typeof opts === 'string' ? { message: opts } : (opts ?? {});
      for (let i = 0; i < count; i++) {
        failures.push({
          status,
          ...(o.message === undefined ? {} : { message: o.message }),
          ...(o.path === undefined ? {} : { path: o.path }),
        });
      }
    },
    delayNext(ms, count = 1) {
      for (let i = 0; i < count; i++) delays.push(ms);
    },
    onSend(h) {
      hook = h;
    },
    addTemplate,
    reset() {
      sms.length = 0;
      emails.length = 0;
      all.length = 0;
      requests.length = 0;
      failures.length = 0;
      delays.length = 0;
      hook = null;
    },
    async close() {
      for (const wake of [...sleeping]) wake();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Notify's UK mobile check (notifications-utils `validate_phone_number`): spaces, brackets and dashes are ignored;
 * `+44`, `0044`, `44` and `0` prefixes are removed; what is left must be `7` and nine more digits.
 * Numbers with another country code are 'international'.
 */
export function checkPhoneNumber(input: string): 'ok' | 'international' | string {
  let n = input.replace(/[\s()\-.]/g, '');
  if (n.startsWith('+')) n = n.slice(1);
  if (!/^\d+$/.test(n)) return 'Must not contain letters or symbols';
  const uk =
    n.startsWith('44') ||
    (n.startsWith('0') && !n.startsWith('00')) ||
    n.startsWith('0044') ||
    (n.startsWith('7') && n.length === 10);
  if (!uk) return 'international';
  if (n.startsWith('0044')) n = n.slice(4);
  else if (n.startsWith('44')) n = n.slice(2);
  n = n.replace(/^0+/, '');
  if (!n.startsWith('7')) return 'Not a UK mobile number';
  if (n.length > 10) return 'Too many digits';
  if (n.length < 10) return 'Not enough digits';
  return 'ok';
}

/**
 * Fills Notify placeholders `((name))` (case- and space-insensitive, as Notify) and lists the missing ones.
 * Optional content `((name??text))` shows `text` when the value is `yes` or `true` (Notify's "optional content").
 */
function render(template: string, personalisation: Record<string, unknown>): { text: string; missing: string[] } {
  const values = new Map(Object.entries(personalisation).map(([k, v]) => [normaliseKey(k), v]));
  const missing: string[] = [];
  const text = template.replace(/\(\(([^()]+)\)\)/g, (_m, inner: string) => {
    const [name = '', ...rest] = inner.split('??');
    const value = values.get(normaliseKey(name));
    if (value === undefined || value === null) {
      missing.push(name.trim());
      return '';
    }
    if (rest.length) return value === true || /^(yes|true)$/i.test(String(value).trim()) ? rest.join('??') : '';
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
  return { text, missing };
}

/** The placeholder names a template uses, as Notify lists them (optional content `((name??text))` is `name`). */
function placeholders(template: string): string[] {
  const names = [...template.matchAll(/\(\(([^()]+)\)\)/g)].map((m) => (m[1] ?? '').split('??')[0]!.trim());
  return [...new Set(names)];
}

function normaliseKey(k: string): string {
  return k.replace(/\s/g, '').toLowerCase();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
