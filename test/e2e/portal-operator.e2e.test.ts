/**
 * Issue 11, the operator's pages of the web portal (CONTRACT.md "Web portal": "Operator: the review queue (resolve,
 * dismiss), hospitals with feed health and code maps, providers, rejected messages, and a link to each stay in the
 * Temporal UI"). In Debian's Chromium: an operator signs in, matches an unmatched stay to a provider's client by
 * keyboard alone (the provider's webhook gets the admission alert), dismisses another; every operator page passes axe
 * (WCAG 2.2 A/AA) and fits 320 px; coordinators are refused every page and action. Real HTTP, PostgreSQL, Temporal.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkA11y,
  collectCspViolations,
  describeViolations,
  hermeticContext,
  launchBrowser,
  saveScreenshot,
  tabTo,
} from '../support/browser.js';
import { startFakeNotify, type FakeNotify } from '../support/fake-notify.js';
import { eventually } from '../support/fixtures.js';
import { editFields } from '../support/hl7-edit.js';
import { PortalSession, portalNotifyEnv, signIn } from '../support/portal.js';
import {
  LOOPBACK_MLLP,
  newSpell,
  registerClient,
  registerHospital,
  sendHl7,
  spellMessage,
  startStory,
  stopStory,
  storyHelpers,
  webhookLadderProvider,
  type Story,
} from '../support/scenario.js';

const TEMPORAL_UI = 'http://temporal-ui.test:8233';
const OPERATOR = { email: 'olu.operator@example.nhs.uk', name: 'Olu Operator' };
const COORDINATOR = { email: 'cat.coordinator@example.org', name: 'Cat Coordinator' };
const DOB = '1941-03-12';
const PROVIDER_ODS = 'VPO1';

let story: Story;
let fake: FakeNotify;
let browser: Browser;
let context: BrowserContext;
/** the operator, signed in */
let page: Page;
let provider: Awaited<ReturnType<typeof webhookLadderProvider>>['provider'];
/** a second hospital: MLLP senders, a code map, a rejected message */
let rr8: Awaited<ReturnType<typeof registerHospital>>;

const { send, webhookOf } = storyHelpers(() => story);

beforeAll(async () => {
  [fake, browser] = await Promise.all([startFakeNotify(), launchBrowser()]);
  story = await startStory({ env: { ...portalNotifyEnv(fake), TEMPORAL_UI_URL: TEMPORAL_UI } });
  const { svc } = story;
  const op = await svc.api('POST', '/v1/operators', { key: svc.adminToken, body: OPERATOR });
  expect(op.status, op.text).toBe(201);
  ({ provider } = await webhookLadderProvider(story, PROVIDER_ODS, { waitSeconds: 300 }));
  const coordinator = await svc.api('POST', `/v1/providers/${provider.id}/users`, {
    key: provider.apiKey,
    body: { ...COORDINATOR, role: 'coordinator' },
  });
  expect(coordinator.status, coordinator.text).toBe(201);
  rr8 = await registerHospital(svc, 'RR8', 'St James University Hospital', {
    ...LOOPBACK_MLLP,
    mllpCertificateFingerprints: ['AB'.repeat(32)],
  });
  const map = await svc.api('PUT', `/v1/hospitals/${rr8.id}/code-map`, {
    key: svc.adminToken,
    body: { dischargeMethod: { '20': 'died' }, dischargeDestination: { '03': 'care-home', '01': 'home' } },
  });
  expect(map.status, map.text).toBe(200);
  context = await hermeticContext(browser);
  page = await context.newPage();
  await signIn(page, svc.baseUrl, OPERATOR.email, fake);
});
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stopStory(story);
  await fake?.close();
});

type ReviewItem = { admissionId: string; visitNumber: string; statusReasonCode: string };

const review = async () =>
  (await story.svc.api('GET', '/v1/review', { key: story.svc.adminToken })).body.items as ReviewItem[];

/** Sends an admission that cannot be matched and waits until it is in the review queue. */
async function unmatchedStay(edit: (s: ReturnType<typeof newSpell>) => Record<string, string>) {
  const spell = newSpell();
  await send(editFields(spellMessage('a01-admit.hl7', spell), edit(spell)));
  const item = await eventually(
    async () => (await review()).find((i) => i.visitNumber === spell.visit),
    20_000,
    `visit ${spell.visit} in the review queue`,
  );
  return { spell, item };
}

/** An operator page as it must be: one h1, no WCAG 2.2 A/AA violation, no CSP violation, nothing wider than 320 px. */
async function expectGoodPage(path: string, heading: string | RegExp, screenshot?: string): Promise<Page> {
  const p = await context.newPage();
  const csp = collectCspViolations(p);
  const res = await p.goto(story.svc.baseUrl + path);
  expect(res?.status(), path).toBe(200);
  await expect.poll(() => p.locator('h1').count()).toBe(1);
  expect((await p.locator('h1').innerText()).trim()).toMatch(heading);
  const violations = await checkA11y(p);
  expect(violations, `${path}\n${describeViolations(violations)}`).toEqual([]);
  if (screenshot) await saveScreenshot(p, screenshot);
  await p.setViewportSize({ width: 320, height: 800 });
  // the header's script moves navigation items that no longer fit into its "More" menu once it sees the resize
  await expect
    .poll(() => p.evaluate('document.documentElement.scrollWidth'), { message: `${path} at 320 px` })
    .toBeLessThanOrEqual(320);
  expect(csp).toEqual([]);
  return p;
}

describe('the review queue', () => {
  it('an operator matches a date-of-birth mismatch to the provider’s client by keyboard alone, and the provider is alerted', async () => {
    const { svc } = story;
    const spell = newSpell();
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: DOB, reference: 'CL-0042' });
    await send(editFields(spellMessage('a01-admit.hl7', spell), { 'PID-7': '19410313' }));
    const item = await eventually(
      async () => (await review()).find((i) => i.visitNumber === spell.visit),
      20_000,
      'the stay in the review queue',
    );
    expect(item.statusReasonCode).toBe('date-of-birth-mismatch');

    // the queue lists it: hospital, visit number, since, the reason in words, the stay in the Temporal UI
    await page.goto(`${svc.baseUrl}/portal/operator/review`);
    const row = page.locator('tr', { hasText: spell.visit });
    await expect.poll(() => row.count()).toBe(1);
    const rowText = await row.innerText();
    expect(rowText).toContain('Leeds General Infirmary');
    expect(rowText).toContain("The NHS number is a registered client's, but the date of birth differs");
    expect(await row.locator(`a[href^="${TEMPORAL_UI}"]`).getAttribute('href')).toBe(
      `${TEMPORAL_UI}/namespaces/default/workflows/admission-RX1-${spell.visit}`,
    );
    await saveScreenshot(page, 'portal-operator-review-queue');

    // keyboard only: to the item, the candidate, the button
    expect(await tabTo(page, 'href', `/portal/operator/review/${item.admissionId}`, 60)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/portal/operator/review/${item.admissionId}`);
    const body = await page.locator('main').innerText();
    expect(body).toContain(`Care ${PROVIDER_ODS} (${PROVIDER_ODS})`);
    expect(body).toContain('Client reference: CL-0042');
    // the stay's NHS number and the patient's name are not on the page
    expect(body).not.toContain(spell.nhs);
    expect(body.toUpperCase()).not.toContain('SMITH');
    await saveScreenshot(page, 'portal-operator-review-item');
    expect(await tabTo(page, 'value', provider.id, 60)).toBe(true);
    await page.keyboard.press('Space');
    expect(await tabTo(page, 'id', 'match-candidate')).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/portal/operator/review?resolved=matched');
    expect(await page.locator('.nhsuk-notification-banner').innerText()).toContain(
      "Matched. The provider's alerts are going out.",
    );
    expect(await page.locator('main').innerText()).not.toContain(spell.visit);

    const alert = await webhookOf(PROVIDER_ODS, 'admission', (b) => b.admissionId === item.admissionId);
    expect(alert.patient).toMatchObject({ nhsNumber: spell.nhs, reference: 'CL-0042' });
    expect((await review()).some((i) => i.admissionId === item.admissionId)).toBe(false);
    const audit = await svc.api('GET', '/v1/audit?action=review.matched', { key: svc.adminToken });
    expect(audit.body.items.find((e: any) => e.entityId === item.admissionId)).toMatchObject({
      actor: `operator:${OPERATOR.email}`,
      details: { providerId: provider.id },
    });
  });

  it('an operator dismisses an item with a note, by keyboard; without a note the page says what to do', async () => {
    const { svc } = story;
    const { item } = await unmatchedStay(() => ({ 'PID-3': 'RX1001234^^^RX1^MR' }));
    await page.goto(`${svc.baseUrl}/portal/operator/review/${item.admissionId}`);
    expect(await page.locator('main').innerText()).toContain('No NHS number in PID-3 or PID-2');

    // no note: 400, the error summary links to the field, and axe still passes
    expect(await tabTo(page, 'id', 'dismiss', 60)).toBe(true);
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.keyboard.press('Enter'),
    ]);
    expect(refused.status()).toBe(400);
    await expect.poll(() => page.title()).toMatch(/^Error: /);
    expect(await page.locator('.nhsuk-error-summary').innerText()).toContain(
      'Enter why you are dismissing this item (up to 2000 characters)',
    );
    const violations = await checkA11y(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await saveScreenshot(page, 'portal-operator-review-error');

    expect(await tabTo(page, 'id', 'note', 60)).toBe(true);
    await page.keyboard.type('Test patient at the PAS');
    expect(await tabTo(page, 'id', 'dismiss')).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/portal/operator/review?resolved=dismissed');
    expect((await review()).some((i) => i.admissionId === item.admissionId)).toBe(false);
    const audit = await svc.api('GET', '/v1/audit?action=review.dismissed', { key: svc.adminToken });
    expect(audit.body.items.find((e: any) => e.entityId === item.admissionId)).toMatchObject({
      actor: `operator:${OPERATOR.email}`,
      details: { note: 'Test patient at the PAS' },
    });
    // the same item again (the form sent twice): nothing changes
    const again = await context.request.get(`${svc.baseUrl}/portal/operator/review/${item.admissionId}`);
    expect(again.status()).toBe(409);
    expect(await again.text()).toContain('This item is no longer waiting for review');
  });

  it('refuses a match it cannot make, with the exact words, and changes nothing', async () => {
    const { svc } = story;
    const { item } = await unmatchedStay(() => ({ 'PID-3': '9995260183^^^NHS^NH' }));
    const operator = new PortalSession(svc.baseUrl);
    await signIn(operator, svc.baseUrl, OPERATOR.email, fake);
    const itemPath = `/portal/operator/review/${item.admissionId}`;
    expect((await operator.get(itemPath)).status).toBe(200);

    const badNhs = await operator.post(`${itemPath}/match`, { otherProviderId: provider.id, nhsNumber: '9995260183' });
    expect(badNhs.status).toBe(400);
    expect(badNhs.text).toContain('Enter a valid NHS number: 10 digits, like 943 476 5919');
    const noProvider = await operator.post(`${itemPath}/match`, { otherProviderId: '', nhsNumber: '9434765919' });
    expect(noProvider.status).toBe(400);
    expect(noProvider.text).toContain('Select the provider whose client this is');
    const noClient = await operator.post(`${itemPath}/match`, {
      otherProviderId: provider.id,
      nhsNumber: '9434765919',
    });
    expect(noClient.status).toBe(422);
    expect(noClient.text).toContain(
      'That provider has no client registered with that NHS number: register the client first, then resolve',
    );
    // no candidate for a stay with no valid NHS number: the first form is not there, and choosing one is refused
    expect(noClient.text).not.toContain('id="match-candidate"');
    const noCandidate = await operator.post(`${itemPath}/match`, { providerId: provider.id });
    expect(noCandidate.status).toBe(400);
    expect(noCandidate.text).toContain(
      'This stay has no valid NHS number to match on: enter the number the hospital confirmed',
    );
    // no CSRF token: refused before anything happens
    const forged = await operator.post(`${itemPath}/dismiss`, { _csrf: null, note: 'x' });
    expect(forged.status).toBe(403);
    expect(forged.text).toContain('Sorry, we could not accept that form');
    expect((await review()).some((i) => i.admissionId === item.admissionId)).toBe(true);

    expect((await operator.get('/portal/operator')).location).toBe('/portal/operator/review');
    expect((await operator.get('/portal/operator/review/not-an-id')).status).toBe(404);
    expect((await operator.get('/portal/operator/review/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});

describe('hospitals, providers and rejected messages', () => {
  it('hospitals: feed health for each; a hospital page with its code map and MLLP senders, read-only', async () => {
    const { svc } = story;
    // a message RR8 sent that was refused: no visit number on an admission (AE)
    const rejected = await sendHl7(
      svc,
      rr8.apiKey,
      editFields(spellMessage('a01-admit.hl7', newSpell()), { 'MSH-4': 'RR8', 'PV1-19': '' }),
    );
    expect(rejected.ack.code).toBe('AE');

    const list = await expectGoodPage('/portal/operator/hospitals', 'Hospitals', 'portal-operator-hospitals');
    const row = list.locator('tr', { hasText: 'St James University Hospital' });
    const text = await row.innerText();
    expect(text).toMatch(/Messages in 24 hours\s*1/);
    expect(text).toMatch(/Rejected in 24 hours\s*1/);
    expect(text).toContain('Receiving');
    await list.close();

    const one = await expectGoodPage(
      `/portal/operator/hospitals/${rr8.id}`,
      'St James University Hospital',
      'portal-operator-hospital',
    );
    const body = await one.locator('main').innerText();
    expect(body).toContain('Discharge method (PV1-36)');
    expect(body).toMatch(/20\s+died/);
    expect(body).toMatch(/03\s+care home or hospice \(care-home\)/);
    expect(body).toContain('127.0.0.1/32');
    expect(body.replace(/\s/g, '')).toContain(Array(32).fill('AB').join(':'));
    expect(await one.locator('main form').count()).toBe(0);
    await one.close();
    expect(
      (
        await context.request.get(`${svc.baseUrl}/portal/operator/hospitals/00000000-0000-4000-8000-000000000000`)
      ).status(),
    ).toBe(404);
  });

  it('providers: a list with clients; a provider page with contacts (no addresses or secrets) and its ladder', async () => {
    const list = await expectGoodPage('/portal/operator/providers', 'Providers', 'portal-operator-providers');
    expect(await list.locator('tr', { hasText: `Care ${PROVIDER_ODS}` }).innerText()).toMatch(/Clients\s*\d+/);
    await list.close();
    const one = await expectGoodPage(
      `/portal/operator/providers/${provider.id}`,
      `Care ${PROVIDER_ODS}`,
      'portal-operator-provider',
    );
    const body = await one.locator('main').innerText();
    expect(body).toContain('Day coordinator');
    expect(body).toContain('On-call manager');
    expect(body).toContain('Step 1: Day coordinator (coordinator), by webhook; wait 5 minutes, then step 2.');
    expect(body).toContain(
      'Step 2: On-call manager (coordinator), by webhook; then wait 5 minutes for an acknowledgement.',
    );
    const html = await one.content();
    expect(html).not.toContain(story.hooks.url(''));
    expect(html).not.toContain('/c1');
    await one.close();
  });

  it('rejected messages: newest first with the reason, paged, never the message itself', async () => {
    const { svc } = story;
    const spell = newSpell();
    const sent = await sendHl7(
      svc,
      story.hospital.apiKey,
      editFields(spellMessage('a01-admit.hl7', spell), { 'PV1-19': '' }),
    );
    expect(sent.ack.code).toBe('AE');
    const p = await expectGoodPage('/portal/operator/messages', 'Rejected messages', 'portal-operator-messages');
    const first = p.locator('tbody tr').first();
    expect(await first.innerText()).toContain(`${spell.ids}0`);
    const body = await p.locator('main').innerText();
    expect(body).not.toContain(spell.nhs);
    expect(body.toUpperCase()).not.toContain('SMITH');
    await p.close();

    const rr8Only = await expectGoodPage('/portal/operator/messages?hospital=RR8', 'Rejected messages from RR8');
    expect(await rr8Only.locator('tbody tr').count()).toBe(1);
    await rr8Only.close();
    const empty = await context.request.get(`${svc.baseUrl}/portal/operator/messages?page=2`);
    expect(empty.status()).toBe(200);
    expect(await empty.text()).toContain('No more rejected messages.');
    for (const bad of ['abc', '0', '-1', '10001']) {
      const res = await context.request.get(`${svc.baseUrl}/portal/operator/messages?page=${bad}`);
      expect(res.status(), bad).toBe(400);
      expect(await res.text()).toContain('There is no such page of rejected messages');
    }
  });

  it('the review queue and an item pass axe and fit 320 px', async () => {
    const { item } = await unmatchedStay(() => ({ 'PID-7': '' }));
    await (await expectGoodPage('/portal/operator/review', 'Review queue')).close();
    await (await expectGoodPage(`/portal/operator/review/${item.admissionId}`, /^Visit /)).close();
  });
});

describe('without JavaScript', () => {
  it('every operator page fits 320 px and an item is dismissed with scripts off', async () => {
    const { svc } = story;
    const { item } = await unmatchedStay(() => ({ 'PID-3': 'RX1001234^^^RX1^MR' }));
    const noScript = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 320, height: 800 } });
    await noScript.route('https://assets.nhs.uk/**', (route) => route.abort());
    await noScript.addCookies(await context.cookies());
    try {
      const p = await noScript.newPage();
      for (const path of [
        '/portal/operator/review',
        `/portal/operator/review/${item.admissionId}`,
        '/portal/operator/hospitals',
        `/portal/operator/hospitals/${rr8.id}`,
        '/portal/operator/providers',
        `/portal/operator/providers/${provider.id}`,
        '/portal/operator/messages',
      ]) {
        expect((await p.goto(svc.baseUrl + path))?.status(), path).toBe(200);
        expect(await p.evaluate('document.documentElement.scrollWidth'), `${path} at 320 px`).toBeLessThanOrEqual(320);
      }
      await p.goto(`${svc.baseUrl}/portal/operator/review/${item.admissionId}`);
      await p.fill('#note', 'Duplicate of another stay');
      await p.click('#dismiss');
      await p.waitForURL('**/portal/operator/review?resolved=dismissed');
      expect((await review()).some((i) => i.admissionId === item.admissionId)).toBe(false);
    } finally {
      await noScript.close();
    }
  });
});

describe('roles', () => {
  it('a coordinator is refused every operator page and action; a visitor is sent to sign in', async () => {
    const { svc } = story;
    const { item } = await unmatchedStay(() => ({ 'PID-3': 'RX1001234^^^RX1^MR' }));
    const coordinator = new PortalSession(svc.baseUrl);
    await signIn(coordinator, svc.baseUrl, COORDINATOR.email, fake);
    const pages = [
      '/portal/operator/review',
      `/portal/operator/review/${item.admissionId}`,
      '/portal/operator/hospitals',
      `/portal/operator/hospitals/${rr8.id}`,
      '/portal/operator/providers',
      `/portal/operator/providers/${provider.id}`,
      '/portal/operator/messages',
    ];
    for (const path of pages) {
      const res = await coordinator.get(path);
      expect(res.status, path).toBe(403);
      expect(res.text).toContain('You do not have access to this page');
      expect(res.text).not.toContain(item.visitNumber);
    }
    for (const [action, form] of [
      ['dismiss', { note: 'not mine to dismiss' }],
      ['match', { providerId: provider.id }],
    ] as const) {
      const res = await coordinator.post(`/portal/operator/review/${item.admissionId}/${action}`, form);
      expect(res.status, action).toBe(403);
      expect(res.text).toContain('You do not have access to this page');
    }
    expect((await review()).some((i) => i.admissionId === item.admissionId)).toBe(true);

    const visitor = new PortalSession(svc.baseUrl);
    const res = await visitor.get('/portal/operator/review');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/portal/sign-in');
  });
});
