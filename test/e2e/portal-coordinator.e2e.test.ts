/**
 * CONTRACT.md "Web portal", coordinator, in Debian's Chromium against the whole service: a coordinator signs in
 * with the code the fake Notify received, sees a new alert appear without reloading, acknowledges it by keyboard
 * alone, and the escalation stops (the next step's contact gets nothing). Every page passes axe (WCAG 2.2 A/AA)
 * and fits 320 px without horizontal scrolling.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkA11y,
  collectCspViolations,
  describeViolations,
  focusedAttribute,
  hermeticContext,
  launchBrowser,
  saveScreenshot,
  tabTo,
} from '../support/browser.js';
import { startFakeNotify, type FakeNotify } from '../support/fake-notify.js';
import { eventually } from '../support/fixtures.js';
import { portalNotifyEnv, PortalSession, signIn } from '../support/portal.js';
import {
  newSpell,
  registerClient,
  registerProvider,
  spellMessage,
  startStory,
  stopStory,
  storyHelpers,
  webhookLadderProvider,
  type Story,
} from '../support/scenario.js';

/** Step 1's wait: time for the coordinator to acknowledge before step 2 would go out. */
const STEP1_WAIT_SECONDS = 60;

let story: Story;
let notify: FakeNotify;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let csp: string[];
const { send, bodiesTo } = storyHelpers(() => story);

const ODS = 'VPC1';
let provider: Awaited<ReturnType<typeof registerProvider>>;
const coordinator = { email: 'cara.coordinator@example.org', name: 'Cara Coordinator' };
const spell = newSpell();

beforeAll(async () => {
  notify = await startFakeNotify();
  [story, browser] = await Promise.all([startStory({ env: portalNotifyEnv(notify) }), launchBrowser()]);
  ({ provider } = await webhookLadderProvider(story, ODS, { waitSeconds: STEP1_WAIT_SECONDS }));
  await registerClient(story.svc, provider, spell.nhs, {
    dateOfBirth: '1941-03-12',
    familyName: 'SMITH',
    givenName: 'MARGARET',
    reference: 'REF-0042',
  });
  for (const [i, name] of ['ARTHUR JONES', 'BEATRICE KHAN'].entries()) {
    const [givenName, familyName] = name.split(' ') as [string, string];
    await registerClient(story.svc, provider, newSpell().nhs, {
      dateOfBirth: `195${i}-07-0${i + 1}`,
      givenName,
      familyName,
    });
  }
  const res = await story.svc.api('POST', `/v1/providers/${provider.id}/users`, {
    key: provider.apiKey,
    body: { ...coordinator, role: 'coordinator' },
  });
  expect(res.status, res.text).toBe(201);
  context = await hermeticContext(browser);
  page = await context.newPage();
  csp = collectCspViolations(page);
});
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stopStory(story);
  await notify?.close();
});

/** No WCAG 2.2 A/AA violation, no CSP violation, one `<h1>` saying `heading`. */
async function expectAccessible(p: Page, heading: string): Promise<void> {
  const violations = await checkA11y(p);
  expect(violations, describeViolations(violations)).toEqual([]);
  expect(csp).toEqual([]);
  expect(await p.locator('h1').count()).toBe(1);
  expect((await p.locator('h1').textContent())?.trim()).toBe(heading);
}

/** At 320 CSS pixels wide the page needs no horizontal scrolling, and still passes axe. */
async function expectFitsNarrow(p: Page, heading: string): Promise<void> {
  const size = p.viewportSize();
  await p.setViewportSize({ width: 320, height: 640 });
  try {
    expect(await p.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(320);
    await expectAccessible(p, heading);
  } finally {
    if (size) await p.setViewportSize(size);
  }
}

describe('a coordinator at work', () => {
  let alertId: string;
  let alertSeenAt: number;

  it('signs in with the code from the email; the sign-in pages pass axe and fit 320 px', async () => {
    await page.goto(`${story.svc.baseUrl}/portal/alerts`);
    expect(new URL(page.url()).pathname).toBe('/portal/sign-in');
    await expectAccessible(page, 'Sign in');
    await expectFitsNarrow(page, 'Sign in');
    await saveScreenshot(page, 'portal-sign-in');
    // the code page, as the sign-in helper then fills it
    await page.fill('#email', coordinator.email);
    await page.click('button:has-text("Continue")');
    await page.waitForURL(/\/portal\/sign-in\/code$/);
    await expectAccessible(page, 'Check your email');
    await expectFitsNarrow(page, 'Check your email');
    // a wrong code is answered on the page, accessibly
    await page.fill('#code', '12345');
    await page.click('button:has-text("Sign in")');
    await page.getByText('The code must be 6 digits, like 123456').first().waitFor();
    await expectAccessible(page, 'Check your email');

    await signIn(page, story.svc.baseUrl, coordinator.email, notify);
    expect(new URL(page.url()).pathname).toBe('/portal/alerts');
    await expectAccessible(page, 'Alerts');
    expect(await page.locator('main').innerText()).toContain('There are no open alerts.');
    expect(await page.locator('header').innerText()).toContain(`${coordinator.name} (Coordinator, Care ${ODS})`);
  });

  it('sees a new alert appear without reloading the page', async () => {
    await page.evaluate('window.__samePage = true');
    await send(spellMessage('a01-admit.hl7', spell));
    const link = page.locator('#open-alerts a[data-alert-id]');
    await link.waitFor({ timeout: 30_000 });
    expect(await page.evaluate('window.__samePage')).toBe(true);
    alertSeenAt = Date.now();
    alertId = (await link.getAttribute('data-alert-id'))!;
    expect(await page.locator('#alerts-announcer').textContent()).toBe('1 new alert');
    const row = (await page.locator('#open-alerts tbody tr').innerText()).replace(/\s+/g, ' ');
    expect(row).toContain('Client admitted to hospital');
    expect(row).toContain('MARGARET SMITH');
    expect(row).toContain('12 March 1941');
    expect(row).toContain('Leeds General Infirmary');
    expect(row).toContain('Ward 12 Elderly Care');
    await expectAccessible(page, 'Alerts');
    await expectFitsNarrow(page, 'Alerts');
    await saveScreenshot(page, 'portal-alerts');
  });

  it('acknowledges it by keyboard alone, as "noted"; acknowledgedBy is the signed-in user', async () => {
    expect(await tabTo(page, 'data-alert-id', alertId, 40)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.pathname === `/portal/alerts/${alertId}`);
    await expectAccessible(page, 'Client admitted to hospital');
    await expectFitsNarrow(page, 'Client admitted to hospital');
    const main = await page.locator('main').innerText();
    expect(main).toContain('MARGARET SMITH');
    expect(main).toContain(spell.nhs.replace(/^(\d{3})(\d{3})/, '$1 $2 '));
    expect(main).toContain('Admitted (A01)');
    expect(main).toContain('Step 1: webhook to Day coordinator (coordinator), sent');
    await saveScreenshot(page, 'portal-alert');

    // an admission offers every outcome but "care ended"; its default, "visits paused", is chosen
    expect(
      await page.locator('input[name="outcome"]').evaluateAll((els) => els.map((e) => e.getAttribute('value'))),
    ).toEqual(['visits-paused', 'visits-resumed', 'not-our-client', 'noted']);
    expect(await tabTo(page, 'name', 'outcome')).toBe(true);
    expect(await focusedAttribute(page, 'value')).toBe('visits-paused');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
    expect(await focusedAttribute(page, 'value')).toBe('noted');
    await page.keyboard.press('Tab');
    expect((await page.locator(':focus').textContent())?.trim()).toBe('Acknowledge');
    await page.keyboard.press('Enter');
    await page.getByText('Alert acknowledged').waitFor();
    await expectAccessible(page, 'Client admitted to hospital');
    const after = await page.locator('main').innerText();
    expect(after).toContain(`By ${coordinator.name}`);
    expect(after).toContain('Outcome: Noted.');
    expect(after).toContain(`Acknowledged by ${coordinator.name}: Noted`);

    const api = await story.svc.api('GET', `/v1/alerts/${alertId}`, { key: provider.apiKey });
    expect(api.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: coordinator.name, outcome: 'noted' });
    const [row] = await story.svc.database.sql<{ userEmail: string }[]>`
      select u.email as "userEmail" from alerts a join users u on u.id = a.acknowledged_by_user_id
      where a.id = ${alertId}`;
    expect(row?.userEmail).toBe(coordinator.email);
    // the open-alerts list no longer has it
    await page.goto(`${story.svc.baseUrl}/portal/alerts`);
    expect(await page.locator('main').innerText()).toContain('There are no open alerts.');
  });

  it('the escalation stopped: the step-2 contact got nothing after its wait', async () => {
    // step 1 went out before the alert was on the page; step 2 was due STEP1_WAIT_SECONDS later
    const due = alertSeenAt + STEP1_WAIT_SECONDS * 1000 + 3000;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    expect(bodiesTo(ODS, 'c2')).toEqual([]);
    expect(bodiesTo(ODS, 'c1')).toHaveLength(1);
    const api = await story.svc.api('GET', `/v1/alerts/${alertId}`, { key: provider.apiKey });
    expect(api.body.escalationStep).toBe(1);
  });

  it('a death alert offers only "care ended" (chosen) and "noted"; anything else is refused', async () => {
    const died = newSpell();
    await registerClient(story.svc, provider, died.nhs, { dateOfBirth: '1941-03-12', givenName: 'ANN' });
    await send(spellMessage('a01-admit.hl7', died));
    await send(spellMessage('a03-discharge-died.hl7', died, { '19330907': '19410312' }));
    const death = await eventually(
      async () => {
        const res = await story.svc.api('GET', '/v1/alerts?status=open', { key: provider.apiKey });
        return (res.body.items as { id: string; kind: string }[]).find((a) => a.kind === 'death');
      },
      30_000,
      'the death alert',
    );
    await page.goto(`${story.svc.baseUrl}/portal/alerts/${death.id}`);
    await expectAccessible(page, 'Client reported to have died in hospital');
    expect(
      await page.locator('input[name="outcome"]').evaluateAll((els) => els.map((e) => e.getAttribute('value'))),
    ).toEqual(['noted', 'care-ended']);
    expect(await page.locator('input[name="outcome"]:checked').getAttribute('value')).toBe('care-ended');
    // a forged form choosing "visits resumed"
    const token = await page.locator('input[name="_csrf"]').first().getAttribute('value');
    const posted = await page.evaluate(
      async ([url, csrf]) => {
        const r = await fetch(url!, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _csrf: csrf!, outcome: 'visits-resumed' }).toString(),
        });
        return { status: r.status, text: await r.text() };
      },
      [`/portal/alerts/${death.id}/acknowledge`, token],
    );
    expect(posted.status).toBe(400);
    expect(posted.text).toContain('Select what you have done about this alert');
    const api = await story.svc.api('GET', `/v1/alerts/${death.id}`, { key: provider.apiKey });
    expect(api.body.status).toBe('open');
  });

  it('clients: the list and a search, accessible at any width', async () => {
    await page.goto(`${story.svc.baseUrl}/portal/clients`);
    await expectAccessible(page, 'Clients');
    expect(await page.locator('main').innerText()).toContain('4 clients.');
    await page.fill('#q', '12/03/1941 smith');
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=/);
    const main = await page.locator('main').innerText();
    expect(main).toContain('1 of 4 client matches ‘12/03/1941 smith’.');
    expect(main).toContain('MARGARET SMITH');
    expect(main).not.toContain('ARTHUR');
    await expectAccessible(page, 'Clients');
    await expectFitsNarrow(page, 'Clients');
    await page.goto(`${story.svc.baseUrl}/portal/clients?q=${spell.nhs.replace(/^(\d{3})(\d{3})/, '$1 $2 ')}`);
    expect(await page.locator('main').innerText()).toContain('1 of 4 client matches');
    await page.goto(`${story.svc.baseUrl}/portal/clients`);
    await saveScreenshot(page, 'portal-clients');
  });

  it("another provider's alert is the 404 page, as is an alert id that does not exist", async () => {
    const other = await registerProvider(story.svc, 'VPC2');
    const elsewhere = newSpell();
    await registerClient(story.svc, other, elsewhere.nhs, { dateOfBirth: '1941-03-12' });
    await send(spellMessage('a01-admit.hl7', elsewhere));
    const theirs = await eventually(
      async () => {
        const res = await story.svc.api('GET', '/v1/alerts?status=all', { key: other.apiKey });
        return res.body.items[0] as { id: string } | undefined;
      },
      30_000,
      "the other provider's alert",
    );
    for (const path of [
      `/portal/alerts/${theirs.id}`,
      '/portal/alerts/00000000-0000-4000-8000-000000000000',
      '/portal/alerts/x',
    ]) {
      const res = await page.goto(`${story.svc.baseUrl}${path}`);
      expect(res?.status(), path).toBe(404);
      await expectAccessible(page, 'Page not found');
    }
    await expectFitsNarrow(page, 'Page not found');
    // a page of another role
    expect((await page.goto(`${story.svc.baseUrl}/portal/admin/users`))?.status()).toBe(403);
    await expectAccessible(page, 'You do not have access to this page');
    await expectFitsNarrow(page, 'You do not have access to this page');
    // and acknowledging it is refused the same way, leaving it open
    const token = await page.locator('input[name="_csrf"]').first().getAttribute('value');
    const status = await page.evaluate(
      async ([url, csrf]) =>
        (
          await fetch(url!, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ _csrf: csrf!, outcome: 'noted' }).toString(),
          })
        ).status,
      [`/portal/alerts/${theirs.id}/acknowledge`, token],
    );
    expect(status).toBe(404);
    const after = await story.svc.api('GET', `/v1/alerts/${theirs.id}`, { key: other.apiKey });
    expect(after.body.acknowledgedBy).toBeNull();
    expect(after.body.status).not.toBe('acknowledged');
  });

  it('signs out by keyboard; the signed-out page passes axe and fits 320 px', async () => {
    await page.goto(`${story.svc.baseUrl}/portal/clients`);
    expect(await tabTo(page, 'class', 'nhsuk-header__account-button')).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/portal\/signed-out$/);
    await expectAccessible(page, 'You have signed out');
    await expectFitsNarrow(page, 'You have signed out');
    const live = await new PortalSession(story.svc.baseUrl).get('/portal/alerts/live');
    expect(live.status).toBe(401);
  });

  it('when the session ends, the open-alerts page says the list stopped updating instead of showing a stale one', async () => {
    await signIn(page, story.svc.baseUrl, coordinator.email, notify);
    await page.goto(`${story.svc.baseUrl}/portal/alerts`);
    expect(await page.locator('#alerts-stopped').isVisible()).toBe(false);
    const cookie = (await context.cookies()).find((c) => c.name === 'aa_portal')!;
    const sid = decodeURIComponent(cookie.value).slice(2).split('.')[0]!;
    // thirty minutes pass without a person using the service (the polls do not count)
    await story.svc.database.sql`update portal_sessions set expire = now() - interval '1 second' where sid = ${sid}`;
    await page.locator('#alerts-stopped').waitFor({ state: 'visible', timeout: 20_000 });
    expect(await page.locator('#open-alerts').isVisible()).toBe(false);
    expect(await page.locator('main').innerText()).toContain('This list has stopped updating');
    await expectAccessible(page, 'Alerts');
    await expectFitsNarrow(page, 'Alerts');
  });
});
