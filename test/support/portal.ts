/**
 * Signing in to the web portal from tests, with the code from the fake Notify (or from the log, when the service
 * runs without Notify): in Chromium (a Playwright page) or with fetch and a small cookie jar ({@link PortalSession}).
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import type { FakeNotify } from './fake-notify.js';

/** The sign-in email template the tests' fake Notify holds (personalisation `code`, `minutes`). */
export const SIGN_IN_TEMPLATE =
  'Your code to sign in to Admission alerts is ((code)). It works for ((minutes)) minutes.';

/**
 * Adds the sign-in template to the fake Notify; returns the environment that makes the service use it
 * (pass to `startTestService({ env })`).
 */
export function portalNotifyEnv(fake: FakeNotify): Record<string, string> {
  const id = fake.addTemplate({ type: 'email', subject: 'Your sign-in code', body: SIGN_IN_TEMPLATE });
  return { NOTIFY_API_KEY: fake.apiKey, NOTIFY_BASE_URL: fake.baseUrl, NOTIFY_SIGN_IN_TEMPLATE_ID: id };
}

/** The service's log lines, kept in memory (pass `logger` to `startTestService`). */
export interface LogCapture {
  logger: Logger;
  /** every line written so far, parsed */
  lines: Record<string, unknown>[];
}

export function captureLogs(level = 'info'): LogCapture {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/** Where sign-in codes are read from: the fake Notify's emails, or the log (no Notify, outside production). */
export type CodeSource = FakeNotify | LogCapture;

/** The sign-in codes sent to `email` so far, oldest first. */
export function codesFor(source: CodeSource, email: string): string[] {
  const to = email.toLowerCase();
  if ('emails' in source) {
    return source.emails
      .filter((e) => e.emailAddress.toLowerCase() === to && typeof e.personalisation['code'] === 'string')
      .map((e) => e.personalisation['code'] as string);
  }
  return source.lines
    .filter((l) => typeof l['signInCode'] === 'string' && String(l['email']).toLowerCase() === to)
    .map((l) => l['signInCode'] as string);
}

/** Waits (up to 10 s) until more than `seen` codes were sent to `email`; returns the newest. */
export async function nextCode(source: CodeSource, email: string, seen: number): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const codes = codesFor(source, email);
    if (codes.length > seen) return codes[codes.length - 1]!;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no sign-in code was sent to ${email}`);
}

/** A response as a test reads it. */
export interface PortalResponse {
  status: number;
  text: string;
  headers: Headers;
  /** the Location of a redirect */
  location: string | null;
}

/**
 * A browser without a browser: fetch with a cookie jar, following no redirects, remembering the CSRF token of the
 * last page it got (`csrf`), which {@link PortalSession.post} sends unless told otherwise.
 */
export class PortalSession {
  readonly cookies = new Map<string, string>();
  /** the `_csrf` field of the last page fetched */
  csrf: string | undefined;

  constructor(readonly baseUrl: string) {}

  /**
   * Sends a request with the jar's cookies and returns as soon as the response's headers arrive (as a browser follows
   * a redirect on them), with its cookies taken into the jar and its body left unread.
   */
  async headersOnly(
    method: string,
    path: string,
    body?: URLSearchParams,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(this.baseUrl + path, {
      method,
      redirect: 'manual',
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...headers,
      },
      ...(body ? { body } : {}),
    });
    for (const set of res.headers.getSetCookie()) {
      const [pair = ''] = set.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(set)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  private async send(method: string, path: string, body?: URLSearchParams, headers: Record<string, string> = {}) {
    const res = await this.headersOnly(method, path, body, headers);
    const text = await res.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(text)?.[1];
    if (token) this.csrf = token;
    return { status: res.status, text, headers: res.headers, location: res.headers.get('location') };
  }

  get(path: string, headers?: Record<string, string>): Promise<PortalResponse> {
    return this.send('GET', path, undefined, headers);
  }

  /** POSTs a form; `_csrf` is the last page's token unless `form` gives one (`null` sends none). */
  post(
    path: string,
    form: Record<string, string | null> = {},
    headers?: Record<string, string>,
  ): Promise<PortalResponse> {
    const body = new URLSearchParams();
    if (!('_csrf' in form) && this.csrf) body.set('_csrf', this.csrf);
    for (const [k, v] of Object.entries(form)) if (v !== null) body.set(k, v);
    return this.send('POST', path, body, headers);
  }
}

/**
 * Signs `email` in to the portal at `baseUrl` with the code `source` receives. With a Playwright page it fills the
 * forms in Chromium and returns the page's context (signed in); with a {@link PortalSession} it posts the forms and
 * returns the session. Throws when sign-in does not end on a portal page.
 */
export async function signIn(target: Page, baseUrl: string, email: string, source: CodeSource): Promise<BrowserContext>;
export async function signIn(
  target: PortalSession,
  baseUrl: string,
  email: string,
  source: CodeSource,
): Promise<PortalSession>;
export async function signIn(
  target: Page | PortalSession,
  baseUrl: string,
  email: string,
  source: CodeSource,
): Promise<BrowserContext | PortalSession> {
  const seen = codesFor(source, email).length;
  if (target instanceof PortalSession) {
    await target.get('/portal/sign-in');
    const asked = await target.post('/portal/sign-in', { email });
    if (asked.status !== 303) throw new Error(`sign-in answered ${asked.status}: ${asked.text.slice(0, 200)}`);
    await target.get('/portal/sign-in/code');
    const code = await nextCode(source, email, seen);
    const done = await target.post('/portal/sign-in/code', { code });
    if (done.status !== 303) throw new Error(`the code was not accepted (${done.status})`);
    return target;
  }
  await target.goto(`${baseUrl}/portal/sign-in`);
  await target.fill('#email', email);
  // the wait is set up before the click, so a navigation that ends quickly is never missed
  await arrive(target, 'the code page', /\/portal\/sign-in\/code$/, () => target.click('button:has-text("Continue")'));
  await target.fill('#code', await nextCode(source, email, seen));
  await arrive(
    target,
    'a portal page after sign-in',
    (url) => url.pathname.startsWith('/portal/') && !url.pathname.startsWith('/portal/sign-in'),
    () => target.click('button:has-text("Sign in")'),
  );
  return target.context();
}

/**
 * Clicks and waits for the page to reach `url`; when it does not (in 30 s), throws with where the page is and what
 * it shows (its heading and any error summary), so a failure says which step of sign-in went wrong and why.
 */
async function arrive(
  page: Page,
  what: string,
  url: RegExp | ((url: URL) => boolean),
  click: () => Promise<void>,
): Promise<void> {
  try {
    await Promise.all([page.waitForURL(url, { timeout: 30_000 }), click()]);
  } catch (err) {
    const shown = await page
      .evaluate(
        `[document.title, document.querySelector('h1')?.textContent, document.querySelector('.nhsuk-error-summary')?.textContent]
          .filter(Boolean).join(' | ').replace(/\\s+/g, ' ').trim()`,
      )
      .catch((e: unknown) => `(unreadable: ${String(e)})`);
    throw new Error(
      `sign-in did not reach ${what}: the page is ${page.url()} showing "${String(shown)}" (${String(err)})`,
    );
  }
}
