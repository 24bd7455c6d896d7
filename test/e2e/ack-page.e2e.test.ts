/**
 * Issue 4, items 6 and 7: the one-time acknowledgement link of an SMS, opened in a real browser (Debian's Chromium
 * through playwright-core) against the whole service (real HTTP, PostgreSQL, Temporal), with GOV.UK Notify played by
 * the local fake. Every page state passes axe-core's WCAG 2.2 A and AA rules.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkA11y,
  collectCspViolations,
  describeViolations,
  focusedAttribute,
  hermeticContext,
  launchBrowser,
  tabTo,
} from '../support/browser.js';
import { startFakeNotify, type FakeNotify, type FakeSms } from '../support/fake-notify.js';
import { eventually } from '../support/fixtures.js';
import {
  addContact,
  admissionOf,
  newSpell,
  registerClient,
  registerHospital,
  registerProvider,
  sendHl7,
  setPolicy,
  spellMessage,
} from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';

/** Lifetime of the links of the second service, whose links are opened after they expire. */
const SHORT_TTL_SECONDS = 5;
/** How long the story's first step waits for an acknowledgement before step 2: time for the browser to act. */
const STEP1_WAIT_SECONDS = 12;

let fake: FakeNotify;
let browser: Browser;
let context: BrowserContext;
/** the service under test, Notify configured against the fake */
let svc: TestService;
let hospitalKey: string;
/** the same, with links that expire after SHORT_TTL_SECONDS */
let shortLived: TestService;
let shortLivedHospitalKey: string;

const notifyEnv = (f: FakeNotify) => ({
  NOTIFY_API_KEY: f.apiKey,
  NOTIFY_BASE_URL: f.baseUrl,
  NOTIFY_SMS_TEMPLATE_ID: f.smsTemplateId,
  NOTIFY_EMAIL_TEMPLATE_ID: f.emailTemplateId,
});

beforeAll(async () => {
  [fake, browser] = await Promise.all([startFakeNotify(), launchBrowser()]);
  [svc, shortLived] = await Promise.all([
    startTestService({ env: notifyEnv(fake) }),
    startTestService({ env: { ...notifyEnv(fake), ACK_TOKEN_TTL_SECONDS: String(SHORT_TTL_SECONDS) } }),
  ]);
  const [h1, h2] = await Promise.all([registerHospital(svc), registerHospital(shortLived)]);
  hospitalKey = h1.apiKey;
  shortLivedHospitalKey = h2.apiKey;
  context = await hermeticContext(browser);
});
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await Promise.all([svc?.stop(), shortLived?.stop()]);
  await fake?.close();
});

/** The SMS the fake Notify accepted for a UK mobile number (given as 07…), oldest first. */
function smsTo(phone: string): FakeSms[] {
  const digits = phone.replace(/^0/, '');
  return fake.sms.filter((s) => s.phoneNumber.replace(/\D/g, '').endsWith(digits));
}

/**
 * A provider with two SMS contacts on a two-step ladder and a registered client; then the hospital sends that
 * client's A01. Returns the step-1 SMS (whose personalisation carries the link) and the alert's id.
 */
async function admissionAlertBySms(
  s: TestService,
  hospital: string,
  ods: string,
  phones: [string, string],
  waits: [number, number],
) {
  const spell = newSpell();
  const provider = await registerProvider(s, ods, `Care ${ods}`);
  const first = await addContact(s, provider, { name: 'Day coordinator', phone: phones[0] });
  const second = await addContact(s, provider, { name: 'On-call manager', phone: phones[1] });
  await setPolicy(s, provider, [
    { contactIds: [first.id], channels: ['sms'], waitSeconds: waits[0] },
    { contactIds: [second.id], channels: ['sms'], waitSeconds: waits[1] },
  ]);
  await registerClient(s, provider, spell.nhs, { dateOfBirth: '1941-03-12', reference: `REF-${ods}` });
  const a01 = await sendHl7(s, hospital, spellMessage('a01-admit.hl7', spell));
  expect(a01.ack.code).toBe('AA');
  const sms = await eventually(async () => smsTo(phones[0])[0], 20_000, `the step-1 SMS to ${phones[0]}`);
  const url = String(sms.personalisation['acknowledge_url']);
  expect(url.startsWith(`${s.baseUrl}/a/`), url).toBe(true);
  const alerts = await s.api('GET', '/v1/alerts?status=all', { key: provider.apiKey });
  expect(alerts.body.items).toHaveLength(1);
  return { spell, provider, sms, url, alertId: alerts.body.items[0].id as string };
}

/** Opens `url` in a new tab; collects CSP violations from the start. */
async function open(url: string): Promise<{ page: Page; status: number | undefined; csp: string[] }> {
  const page = await context.newPage();
  const csp = collectCspViolations(page);
  const response = await page.goto(url, { waitUntil: 'load' });
  return { page, status: response?.status(), csp };
}

/** No WCAG 2.2 A/AA violation, no CSP violation, one `<h1>` saying `heading`. */
async function expectAccessible(view: { page: Page; csp: string[] }, heading: string): Promise<void> {
  const violations = await checkA11y(view.page);
  expect(violations, describeViolations(violations)).toEqual([]);
  expect(view.csp).toEqual([]);
  expect(await view.page.locator('h1').count()).toBe(1);
  expect((await view.page.locator('h1').textContent())?.trim()).toBe(heading);
}

/** The page shows no patient details: a link may be forwarded (CONTRACT.md "SMS and email"). */
async function expectNoPatientData(page: Page, spell: { nhs: string }): Promise<void> {
  const text = await page.locator('body').innerText();
  for (const secret of [
    spell.nhs,
    spell.nhs.replace(/^(\d{3})(\d{3})/, '$1 $2 '),
    'SMITH',
    'MARGARET',
    'Ward 12',
    '1941',
  ]) {
    expect(text.toUpperCase()).not.toContain(secret.toUpperCase());
  }
}

const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

async function alertOf(s: TestService, key: string, alertId: string) {
  const res = await s.api('GET', `/v1/alerts/${alertId}`, { key });
  expect(res.status).toBe(200);
  return res.body as { status: string; outcome: string | null; acknowledgedBy: string | null; escalationStep: number };
}

describe('acknowledging from the link in an SMS', () => {
  /** shared by the tests of this block, which run in order: the story's alert and when its second step is due */
  let story: Awaited<ReturnType<typeof admissionAlertBySms>>;
  let stepTwoDueAt: number;
  /** the CSRF field of the form as first rendered, before the link was used */
  let oldCsrf: string;
  const PHONES: [string, string] = ['07700900111', '07700900112'];

  it('opening the link (as link scanners do) changes nothing; cross-site and forged POSTs are refused', async () => {
    story = await admissionAlertBySms(svc, hospitalKey, 'VP201', PHONES, [STEP1_WAIT_SECONDS, 2]);
    stepTwoDueAt = Date.parse(story.sms.createdAt) + STEP1_WAIT_SECONDS * 1000;
    const { url, alertId, provider } = story;

    let html = '';
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      html = await res.text();
      expect(html).toContain('Client admitted to hospital');
    }
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
    expect(await alertOf(svc, provider.apiKey, alertId)).toMatchObject({
      status: 'open',
      outcome: null,
      acknowledgedBy: null,
    });

    const csrf = csrfOf(html);
    expect(csrf).not.toBe('');
    oldCsrf = csrf;
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    const post = (headers: Record<string, string>, fields: Record<string, string>) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: form(fields),
      });
    const refused = [
      // another site's form, even carrying a valid CSRF field
      await post({ origin: 'https://attacker.example' }, { csrf, outcome: 'noted', by: 'x' }),
      await post({ 'sec-fetch-site': 'cross-site' }, { csrf, outcome: 'noted', by: 'x' }),
      // our origin, but no or a forged CSRF field
      await post({ origin: svc.baseUrl }, { outcome: 'noted', by: 'x' }),
      await post(
        { origin: svc.baseUrl },
        { csrf: `${csrf.split('.')[0]}.${'A'.repeat(43)}`, outcome: 'noted', by: 'x' },
      ),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403]);

    // a real cross-site page that submits the form in the browser
    const attacker: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><html lang="en"><title>x</title><form id="f" method="post" action="${url}">
        <input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="outcome" value="noted">
        <input type="hidden" name="by" value="attacker"></form><script>document.getElementById('f').submit()</script></html>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    try {
      const page = await context.newPage();
      const posted = page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST');
      // localhost is another site than 127.0.0.1, where the service is
      await page.goto(`http://localhost:${(attacker.address() as AddressInfo).port}/`);
      expect((await posted).status()).toBe(403);
      await page.close();
    } finally {
      attacker.close();
    }

    expect(await alertOf(svc, provider.apiKey, alertId)).toMatchObject({ status: 'open', outcome: null });
  });

  it('a coordinator acknowledges by keyboard alone, choosing "not our client", and sees the confirmation', async () => {
    const { url, alertId, provider, spell } = story;
    const alertPage = await open(url);
    expect(alertPage.status).toBe(200);
    const { page } = alertPage;
    await expectAccessible(alertPage, 'Client admitted to hospital');
    await expectNoPatientData(page, spell);
    const body = await page.locator('main').innerText();
    expect(body).toContain('Care VP201');
    expect(body).toContain('Leeds General Infirmary');
    expect(body).toContain('REF-VP201');

    // Tab to the outcome radios: an admission's default, "visits paused", is chosen and focused
    expect(await tabTo(page, 'name', 'outcome')).toBe(true);
    expect(await focusedAttribute(page, 'value')).toBe('visits-paused');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    expect(await focusedAttribute(page, 'value')).toBe('not-our-client');
    expect(await page.locator('input[name="outcome"]:checked').getAttribute('value')).toBe('not-our-client');
    await page.keyboard.press('Tab');
    expect(await focusedAttribute(page, 'id')).toBe('by');
    await page.keyboard.type('Sam Jones');
    await page.keyboard.press('Tab');
    expect((await page.locator(':focus').textContent())?.trim()).toBe('Acknowledge');
    const posted = page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST');
    await page.keyboard.press('Enter');
    expect((await posted).status()).toBe(200);
    await page.getByRole('heading', { level: 1, name: 'Alert acknowledged' }).waitFor();
    await expectAccessible(alertPage, 'Alert acknowledged');
    await expectNoPatientData(page, spell);
    const confirmation = await page.locator('main').innerText();
    expect(confirmation).toContain('Not our client');
    expect(confirmation).toContain('Sam Jones');
    await page.close();

    const alert = await alertOf(svc, provider.apiKey, alertId);
    expect(alert).toMatchObject({
      status: 'acknowledged',
      outcome: 'not-our-client',
      acknowledgedBy: 'Sam Jones',
      escalationStep: 1,
    });
  });

  it('"not our client" is recorded on the client, so the provider can clean its list', async () => {
    const { provider, spell } = story;
    const list = await svc.api('GET', `/v1/providers/${provider.id}/clients`, { key: provider.apiKey });
    expect(list.status).toBe(200);
    const client = list.body.items.find((c: { nhsNumber: string }) => c.nhsNumber === spell.nhs);
    expect(client.notOurClient).toEqual({ at: expect.any(String), by: 'Sam Jones' });
    expect(Date.now() - Date.parse(client.notOurClient.at)).toBeGreaterThanOrEqual(0);
    const one = await svc.api('GET', `/v1/providers/${provider.id}/clients/${spell.nhs}`, { key: provider.apiKey });
    expect(one.body.notOurClient).toEqual(client.notOurClient);
  });

  it('the used link shows a clear page, 410, and a POST of its old form is refused with the same page', async () => {
    const { url, alertId, provider } = story;
    const used = await open(url);
    expect(used.status).toBe(410);
    await expectAccessible(used, 'This alert has already been acknowledged');
    expect(await used.page.locator('main').innerText()).toContain('Not our client');
    await used.page.close();

    // the form as it was rendered before the link was used, sent again (a second tab, a double submit)
    const stale = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: svc.baseUrl },
      body: new URLSearchParams({ csrf: oldCsrf, outcome: 'noted', by: 'late' }).toString(),
    });
    expect(stale.status).toBe(410);
    expect(await stale.text()).toContain('This alert has already been acknowledged');
    // and the used page offers no form to send
    expect(csrfOf(await (await fetch(url)).text())).toBe('');
    expect(await alertOf(svc, provider.apiKey, alertId)).toMatchObject({
      outcome: 'not-our-client',
      acknowledgedBy: 'Sam Jones',
    });
  });

  it('the ladder stopped: no step-2 SMS after its wait, and the admission is acknowledged', async () => {
    const { provider, alertId, spell } = story;
    const margin = 3000;
    const remaining = stepTwoDueAt + margin - Date.now();
    if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
    expect(smsTo(PHONES[1])).toEqual([]);
    expect(smsTo(PHONES[0])).toHaveLength(1);
    expect(await alertOf(svc, provider.apiKey, alertId)).toMatchObject({ status: 'acknowledged', escalationStep: 1 });
    await eventually(
      async () => (await admissionOf(svc, spell.visit))?.status === 'acknowledged',
      20_000,
      'admission acknowledged',
    );
  });
});

describe('a link opened after it expired', () => {
  const PHONES: [string, string] = ['07700900121', '07700900122'];

  it('shows a clear page, 410, on GET and on a POST of a form opened in time; nobody acknowledged, so step 2 went out', async () => {
    const { url, sms, alertId, provider, spell } = await admissionAlertBySms(
      shortLived,
      shortLivedHospitalKey,
      'VP301',
      PHONES,
      [2, 60],
    );
    // the form, opened while the link was still valid
    const early = await open(url);
    const expiresAt = Date.parse(sms.createdAt) + SHORT_TTL_SECONDS * 1000;
    expect(early.status, 'the page must open within the link lifetime').toBe(200);
    await expectNoPatientData(early.page, spell);

    // nobody acknowledges: the ladder moves to step 2 by SMS, with a link of its own
    const second = await eventually(async () => smsTo(PHONES[1])[0], 20_000, 'the step-2 SMS');
    expect(second.personalisation['acknowledge_url']).not.toBe(url);
    const wait = expiresAt + 500 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));

    // submitting the old form by keyboard
    expect(await tabTo(early.page, 'name', 'outcome')).toBe(true);
    await early.page.keyboard.press('Tab');
    await early.page.keyboard.press('Tab');
    const posted = early.page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST');
    await early.page.keyboard.press('Enter');
    expect((await posted).status()).toBe(410);
    await early.page.getByRole('heading', { level: 1, name: 'This link has expired' }).waitFor();
    await expectAccessible(early, 'This link has expired');
    await early.page.close();

    const expired = await open(url);
    expect(expired.status).toBe(410);
    await expectAccessible(expired, 'This link has expired');
    await expired.page.close();

    const alert = await alertOf(shortLived, provider.apiKey, alertId);
    expect(alert.status).not.toBe('acknowledged');
    expect(alert.acknowledgedBy).toBeNull();
  });

  it('attempts are rate-limited: 429 per link after 30 in five minutes, and per address for guessed links', async () => {
    const base = `${shortLived.baseUrl}/a/`;
    const guess = () => `${base}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    const one = guess();
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) statuses.push((await fetch(one)).status);
    expect(statuses.slice(0, 30).every((s) => s === 404)).toBe(true);
    expect(statuses[30]).toBe(429);
    const limited = await fetch(one, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'outcome=noted',
    });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.text()).toContain('too many attempts');

    // guessing other links from the same address runs into the per-address limit
    let tries = 0;
    let status = 0;
    while (tries < 200 && status !== 429) {
      status = (await fetch(guess())).status;
      tries++;
    }
    expect(status).toBe(429);
    // the earlier requests from this address count too: at most 120 in five minutes
    expect(tries).toBeGreaterThan(1);
    expect(tries).toBeLessThanOrEqual(120);
  });
});
