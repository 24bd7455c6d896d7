/**
 * Issue 11, CONTRACT.md "Web portal": the provider admin's pages (users, contacts, the escalation ladder, the client
 * list) in Debian's Chromium against the whole service: roles enforced on every page and form, another provider's
 * things are 404, every page passes axe (WCAG 2.2 A and AA), fits 320 px and works by keyboard alone. What the
 * pages save is checked through the API, which shares their rules (src/registry/).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkA11y,
  describeViolations,
  focusedAttribute,
  hermeticContext,
  launchBrowser,
  saveScreenshot,
  tabTo,
} from '../support/browser.js';
import { startFakeNotify, type FakeNotify } from '../support/fake-notify.js';
import { portalNotifyEnv, PortalSession, signIn } from '../support/portal.js';
import { addContact, registerProvider, testNhsNumber } from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';

let svc: TestService;
let notify: FakeNotify;
let browser: Browser;
beforeAll(async () => {
  [notify, browser] = await Promise.all([startFakeNotify(), launchBrowser()]);
  svc = await startTestService({ roles: ['api'], env: portalNotifyEnv(notify) });
});
afterAll(async () => {
  await browser?.close();
  await svc?.stop();
  await notify?.close();
});

let seq = 0;
const unique = (prefix: string) => `${prefix}${Date.now().toString(36).slice(-4).toUpperCase()}${++seq}`;
const newEmail = () => `${unique('admin').toLowerCase()}@example.org`;

type Provider = Awaited<ReturnType<typeof registerProvider>>;

async function addUser(provider: Provider, role: 'coordinator' | 'admin', name = 'Ada Admin') {
  const res = await svc.api('POST', `/v1/providers/${provider.id}/users`, {
    key: provider.apiKey,
    body: { email: newEmail(), name, role },
  });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; email: string; name: string };
}

/** A new provider and one of its admins, signed in in a fresh browser context. */
async function adminInBrowser(): Promise<{ provider: Provider; admin: { id: string; email: string }; page: Page }> {
  const provider = await registerProvider(svc, unique('PA'));
  const admin = await addUser(provider, 'admin');
  const context: BrowserContext = await hermeticContext(browser);
  const page = await context.newPage();
  await signIn(page, svc.baseUrl, admin.email, notify);
  return { provider, admin, page };
}

/** The page as it is now passes axe, and still does at 320 px wide without scrolling sideways. */
async function expectAccessible(page: Page, screenshot?: string): Promise<void> {
  await page.waitForLoadState('load'); // its stylesheets too
  const violations = await checkA11y(page);
  expect(violations, describeViolations(violations)).toEqual([]);
  if (screenshot) await saveScreenshot(page, screenshot);
  const size = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 800 });
  // the header's script folds the navigation into "More" on resize (debounced); a 320 px screen loads that way
  await page.waitForFunction('document.documentElement.scrollWidth <= 320', null, { timeout: 5000 }).catch(() => {});
  const wide = await page.evaluate(
    `[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 320).map((e) => e.outerHTML.slice(0, 120))`,
  );
  expect(await page.evaluate('document.documentElement.scrollWidth'), String(wide)).toBeLessThanOrEqual(320);
  const narrow = await checkA11y(page);
  expect(narrow, describeViolations(narrow)).toEqual([]);
  if (size) await page.setViewportSize(size);
}

/** The roster form's file input (nhsuk-frontend's script adds a button that takes the id `file`). */
const FILE_INPUT = 'input[type="file"][name="file"]';

/** Waits for `text` on the page; on failure says what the page shows instead. */
async function expectText(page: Page, text: string): Promise<void> {
  try {
    await page.waitForSelector(`text=${text}`, { timeout: 10_000 });
  } catch {
    const main = (await page.textContent('main'))?.replace(/\s+/g, ' ').trim();
    throw new Error(`"${text}" is not on ${page.url()}, which shows: ${main}`);
  }
}

async function clients(provider: Provider) {
  const res = await svc.api('GET', `/v1/providers/${provider.id}/clients`, { key: provider.apiKey });
  expect(res.status).toBe(200);
  return res.body.items as { nhsNumber: string; dateOfBirth: string; familyName: string | null }[];
}

describe('client list', () => {
  it('an admin uploads a list with errors, sees each rejected line and why, nothing saved; fixes it; saves it', async () => {
    const { provider, page } = await adminInBrowser();
    const [a, b, c] = [testNhsNumber(), testNhsNumber(), testNhsNumber()];
    await page.goto(`${svc.baseUrl}/portal/admin/roster`);
    await expectAccessible(page, 'portal-admin-roster');

    const withErrors = [
      'Surname,First name,NHS Number,Date of birth,Reference',
      `SMITH,MARGARET,${a},12/03/1941,C-1`,
      `JONES,ARTHUR,${b.slice(0, 9)},01/02/1950,C-2`, // 9 digits
      `BROWN,EDITH,${c},31/02/1938,C-3`, // no 31 February
      `SMITH,MARGARET,${a},12/03/1941,C-1`, // twice
    ].join('\r\n');
    await page.setInputFiles(FILE_INPUT, {
      name: 'clients.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(withErrors),
    });
    await page.click('button:has-text("Check the file")');
    await page.waitForURL(/\/portal\/admin\/roster\/preview\?/);
    expect(await page.textContent('h1')).toContain('Check the client list');
    const rejected = await page.$$eval('table:has(caption:text("Lines that will not be saved")) tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.lastChild?.textContent?.trim() ?? '')),
    );
    expect(rejected).toEqual([
      ['3', 'nhs_number: NHS number has 9 digits, expected 10'],
      ['4', 'date_of_birth: must be a real date, not in the future'],
      ['5', 'nhs_number: duplicate of line 2'],
    ]);
    expect(await page.textContent('main')).toContain('12 March 1941');
    expect(await clients(provider)).toEqual([]); // nothing saved yet
    await expectAccessible(page, 'portal-admin-roster-preview');

    // the corrected file
    await page.click('a:has-text("Upload a corrected file instead")');
    const fixed = [
      'Surname,First name,NHS Number,Date of birth,Reference',
      `SMITH,MARGARET,${a},12/03/1941,C-1`,
      `JONES,ARTHUR,${b},01/02/1950,C-2`,
      `BROWN,EDITH,${c},28/02/1938,C-3`,
    ].join('\r\n');
    await page.setInputFiles(FILE_INPUT, { name: 'clients.csv', mimeType: 'text/csv', buffer: Buffer.from(fixed) });
    await page.click('button:has-text("Check the file")');
    await page.waitForURL(/\/portal\/admin\/roster\/preview\?/);
    expect(await page.$('#rejected')).toBeNull();
    await page.click('#save-roster');
    await page.waitForURL(/\/portal\/admin\/roster$/);
    expect(await page.textContent('main')).toContain('3 new clients added, 0 updated.');
    await expectAccessible(page);

    const saved = await clients(provider);
    expect(saved.map((x) => [x.nhsNumber, x.dateOfBirth, x.familyName])).toEqual([
      [c, '1938-02-28', 'BROWN'],
      [b, '1950-02-01', 'JONES'],
      [a, '1941-03-12', 'SMITH'],
    ]);

    // the download has the import's header, and imports back unchanged through the API
    const download = await page.request.get(`${svc.baseUrl}/portal/admin/roster/download`);
    expect(download.status()).toBe(200);
    expect(download.headers()['content-type']).toBe('text/csv; charset=utf-8');
    expect(download.headers()['content-disposition']).toMatch(
      new RegExp(`^attachment; filename="clients-${provider.odsCode}-\\d{4}-\\d{2}-\\d{2}\\.csv"$`),
    );
    const csv = (await download.body()).toString('utf8');
    expect(csv.split('\r\n').slice(0, 2)).toEqual([
      '\uFEFFnhs_number,date_of_birth,family_name,given_name,reference',
      `${c},1938-02-28,BROWN,EDITH,C-3`,
    ]);
    const again = await svc.api('POST', `/v1/providers/${provider.id}/clients/import`, {
      key: provider.apiKey,
      body: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(again.body).toEqual({ created: 0, updated: 3, rejected: [] });
    expect(await clients(provider)).toEqual(saved.map((x) => ({ ...x, updatedAt: expect.any(String) })));

    const audit = await svc.api('GET', '/v1/audit?action=clients.imported', { key: svc.adminToken });
    expect(audit.body.items).toContainEqual(
      expect.objectContaining({ actor: expect.stringMatching(/^user:admin/), entityId: provider.id }),
    );
    await page.context().close();
  });

  it('a file without a usable header, no file, and a stale save are refused with the error summary', async () => {
    const { provider, page } = await adminInBrowser();
    await page.goto(`${svc.baseUrl}/portal/admin/roster`);
    await page.click('button:has-text("Check the file")');
    expect(await page.textContent('.nhsuk-error-summary')).toContain('Select a CSV file with your client list');
    await expectAccessible(page);
    await page.setInputFiles(FILE_INPUT, {
      name: 'people.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('Name,Address\r\nSMITH,1 High Street\r\n'),
    });
    await page.click('button:has-text("Check the file")');
    expect(await page.textContent('.nhsuk-error-summary')).toContain(
      "The file's first line must name its columns, including NHS number and date of birth",
    );
    // the summary's link leads to the file input
    await page.click('.nhsuk-error-summary a');
    expect(await focusedAttribute(page, 'id')).toBe('file');

    const s = new PortalSession(svc.baseUrl);
    await signIn(s, svc.baseUrl, (await addUser(provider, 'admin', 'Bo Admin')).email, notify);
    await s.get('/portal/admin/roster');
    const stale = await s.post('/portal/admin/roster/save', { upload: '00000000-0000-4000-8000-000000000000' });
    expect(stale.status).toBe(409);
    expect(stale.text).toContain('That file is no longer waiting to be saved: upload it again');
    // a multipart upload without the form token is refused before it is read
    const noToken = await fetch(`${svc.baseUrl}/portal/admin/roster/preview`, {
      method: 'POST',
      headers: { cookie: [...s.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      body: (() => {
        const f = new FormData();
        f.set('file', new Blob(['nhs_number,date_of_birth\r\n']), 'x.csv');
        return f;
      })(),
    });
    expect(noToken.status).toBe(403);
    await page.context().close();
  });
});

describe('escalation ladder', () => {
  it('is built by keyboard alone: people and ways ticked, a step added and moved up, waits in minutes, saved', async () => {
    const { provider, page } = await adminInBrowser();
    const ann = await addContact(svc, provider, { name: 'Ann Day', role: 'Coordinator', phone: '07700900001' });
    const bob = await addContact(svc, provider, { name: 'Bob Night', role: 'Manager', email: 'bob@example.org' });
    await page.goto(`${svc.baseUrl}/portal/admin/ladder`);
    expect(await page.textContent('main')).toContain(
      'No ladder has been saved yet. Until one is, each alert goes at once to all your contacts',
    );
    await expectAccessible(page, 'portal-admin-ladder');

    // step 1: Ann by text message after 10 minutes
    expect(await tabTo(page, 'value', ann.id, 60)).toBe(true);
    await page.keyboard.press('Space');
    expect(await tabTo(page, 'id', 'step-1-channels')).toBe(true); // the first channel: SMS
    await page.keyboard.press('Space');
    expect(await tabTo(page, 'id', 'step-1-wait')).toBe(true);
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('10');
    // add step 2: focus lands on its first person
    expect(await tabTo(page, 'id', 'add-step')).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#step-2');
    expect(await focusedAttribute(page, 'id')).toBe('step-2-contacts');
    expect(await tabTo(page, 'value', bob.id)).toBe(true);
    await page.keyboard.press('Space');
    expect(await tabTo(page, 'id', 'step-2-channels-2')).toBe(true); // email
    await page.keyboard.press('Space');
    expect(await tabTo(page, 'id', 'step-2-wait')).toBe(true);
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('30');
    // move Bob's step to the top: the moved step's button keeps the focus
    expect(await tabTo(page, 'id', 'step-2-up')).toBe(true);
    await page.keyboard.press('Enter');
    await expectText(page, 'Your changes are not saved yet');
    expect(await focusedAttribute(page, 'id')).toBe('step-1-down');
    expect(await page.inputValue('#step-1-wait')).toBe('30');
    await expectAccessible(page);
    // nothing saved until Save
    expect(
      (await svc.api('GET', `/v1/providers/${provider.id}/escalation-policy`, { key: provider.apiKey })).status,
    ).toBe(404);
    // Enter in a box saves (never removes a step)
    await page.focus('#repeat');
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('1');
    await page.keyboard.press('Enter');
    await expectText(page, 'Escalation ladder saved');
    await expectAccessible(page);

    const policy = await svc.api('GET', `/v1/providers/${provider.id}/escalation-policy`, { key: provider.apiKey });
    expect(policy.body).toEqual({
      providerId: provider.id,
      steps: [
        { contactIds: [bob.id], channels: ['email'], waitSeconds: 1800 },
        { contactIds: [ann.id], channels: ['sms'], waitSeconds: 600 },
      ],
      repeat: 1,
    });
    await page.context().close();
  });

  it('shows every problem with the error summary, each linked to its box, and saves nothing', async () => {
    const { provider, page } = await adminInBrowser();
    const ann = await addContact(svc, provider, { name: 'Ann Day', role: 'Coordinator', phone: '07700900001' });
    await page.goto(`${svc.baseUrl}/portal/admin/ladder`);
    await page.check(`input[value="${ann.id}"]`);
    await page.check('#step-1-channels-2'); // email, which Ann has not got
    await page.fill('#step-1-wait', 'soon');
    await page.fill('#repeat', '99');
    await page.click('#save-ladder');
    const summary = await page.textContent('.nhsuk-error-summary');
    expect(summary).toContain('Step 1 would reach nobody: none of its people has an address for the ways chosen');
    expect(summary).toContain('Enter the wait for step 1 as a whole number of minutes, from 1 to 10080 (7 days)');
    expect(summary).toContain('Enter how many more times to run the ladder, from 0 to 10');
    expect(await page.title()).toMatch(/^Error: /);
    await expectAccessible(page, 'portal-admin-ladder-errors');
    await page.click('.nhsuk-error-summary a:has-text("Enter the wait")');
    expect(await focusedAttribute(page, 'id')).toBe('step-1-wait');
    expect(
      (await svc.api('GET', `/v1/providers/${provider.id}/escalation-policy`, { key: provider.apiKey })).status,
    ).toBe(404);
    await page.context().close();
  });
});

describe('contacts and users', () => {
  it('adds a webhook contact and shows its secret once; refuses bad input; keeps a contact on the ladder', async () => {
    const { provider, page } = await adminInBrowser();
    await page.goto(`${svc.baseUrl}/portal/admin/contacts`);
    await expectAccessible(page);
    await page.fill('#name', 'Cara Desk');
    await page.fill('#role', 'Duty desk');
    await page.fill('#phone', '0123');
    await page.click('button:has-text("Add contact")');
    expect(await page.textContent('.nhsuk-error-summary')).toContain('Enter a UK mobile number, like 07700 900 982');
    await expectAccessible(page);
    await page.fill('#phone', '');
    await page.fill('#webhookUrl', 'http://127.0.0.1:9/hook');
    await page.click('button:has-text("Add contact")');
    await page.waitForSelector('#webhook-secret');
    const secret = (await page.textContent('#webhook-secret'))?.trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    await expectAccessible(page, 'portal-admin-contacts');
    await page.reload();
    expect(await page.$('#webhook-secret')).toBeNull();
    const listed = await svc.api('GET', `/v1/providers/${provider.id}/contacts`, { key: provider.apiKey });
    expect(listed.body.items).toEqual([
      expect.objectContaining({ name: 'Cara Desk', role: 'Duty desk', webhookUrl: 'http://127.0.0.1:9/hook' }),
    ]);
    const cara = listed.body.items[0].id as string;

    // on the ladder: not removed
    await svc.api('PUT', `/v1/providers/${provider.id}/escalation-policy`, {
      key: provider.apiKey,
      body: { steps: [{ contactIds: [cara], channels: ['webhook'], waitSeconds: 60 }] },
    });
    await page.reload();
    await page.click('button:has-text("Remove")');
    expect(await page.textContent('.nhsuk-error-summary')).toContain(
      'Cara Desk is in step 1 of the escalation ladder: take them off the ladder before removing them',
    );
    const audit = await svc.api('GET', '/v1/audit?action=contact.created', { key: svc.adminToken });
    expect(audit.body.items).toContainEqual(
      expect.objectContaining({ actor: expect.stringMatching(/^user:/), entityId: cara }),
    );
    await page.context().close();
  });

  it("another provider's contact or user is 404; a contact off the ladder is removed", async () => {
    const mine = await registerProvider(svc, unique('PM'));
    const theirs = await registerProvider(svc, unique('PT'));
    const theirContact = await addContact(svc, theirs, { name: 'Their Person', email: 't@example.org' });
    const theirUser = await addUser(theirs, 'coordinator');
    const myContact = await addContact(svc, mine, { name: 'My Person', email: 'm@example.org' });
    const s = new PortalSession(svc.baseUrl);
    await signIn(s, svc.baseUrl, (await addUser(mine, 'admin')).email, notify);
    await s.get('/portal/admin/contacts');
    const contact404 = await s.post(`/portal/admin/contacts/${theirContact.id}/remove`);
    expect(contact404.status).toBe(404);
    expect(contact404.text).toContain('Page not found');
    expect((await s.post(`/portal/admin/users/${theirUser.id}/remove`)).status).toBe(404);
    expect((await s.post('/portal/admin/contacts/not-an-id/remove')).status).toBe(404);
    const theirList = await svc.api('GET', `/v1/providers/${theirs.id}/contacts`, { key: theirs.apiKey });
    expect(theirList.body.items).toHaveLength(1);
    expect((await svc.api('GET', `/v1/providers/${theirs.id}/users`, { key: theirs.apiKey })).body.items).toHaveLength(
      1,
    );
    const removed = await s.post(`/portal/admin/contacts/${myContact.id}/remove`);
    expect(removed.status).toBe(303);
    expect((await svc.api('GET', `/v1/providers/${mine.id}/contacts`, { key: mine.apiKey })).body.items).toEqual([]);
  });

  it('adds a coordinator, removes them, and cannot remove themselves', async () => {
    const { provider, admin, page } = await adminInBrowser();
    await page.goto(`${svc.baseUrl}/portal/admin/users`);
    await expectAccessible(page);
    await page.click('button:has-text("Add user")');
    const summary = await page.textContent('.nhsuk-error-summary');
    expect(summary).toContain('Enter their name');
    expect(summary).toContain('Enter an email address in the correct format, like name@example.com');
    expect(summary).toContain('Select what they can do');
    await expectAccessible(page);
    const email = newEmail();
    await page.fill('#name', 'Cy Coordinator');
    await page.fill('#email', email);
    await page.check('#role');
    await page.click('button:has-text("Add user")');
    await expectText(page, 'Cy Coordinator added');
    await expectAccessible(page, 'portal-admin-users');
    const users = await svc.api('GET', `/v1/providers/${provider.id}/users`, { key: provider.apiKey });
    expect(users.body.items.map((u: { email: string; role: string }) => [u.email, u.role]).sort()).toEqual(
      [
        [admin.email, 'admin'],
        [email, 'coordinator'],
      ].sort(),
    );
    await page.click('button:has-text("Remove Cy Coordinator")');
    await expectText(page, 'Cy Coordinator removed');
    expect(
      (await svc.api('GET', `/v1/providers/${provider.id}/users`, { key: provider.apiKey })).body.items,
    ).toHaveLength(1);
    // no remove button for oneself, and a forged one is refused
    expect(await page.$('button:has-text("Remove")')).toBeNull();
    const s = new PortalSession(svc.baseUrl);
    await signIn(s, svc.baseUrl, admin.email, notify);
    await s.get('/portal/admin/users');
    const self = await s.post(`/portal/admin/users/${admin.id}/remove`);
    expect(self.status).toBe(409);
    expect(self.text).toContain('You cannot remove yourself');
    await page.context().close();
  });
});

describe('roles', () => {
  it('a coordinator gets 403 on every admin page and form; a visitor not signed in is sent to sign in', async () => {
    const provider = await registerProvider(svc, unique('PR'));
    const coordinator = await addUser(provider, 'coordinator', 'Cy Coordinator');
    const contact = await addContact(svc, provider, { name: 'Ann Day', phone: '07700900001' });
    const s = new PortalSession(svc.baseUrl);
    await signIn(s, svc.baseUrl, coordinator.email, notify);
    await s.get('/portal/alerts');
    for (const path of [
      '/portal/admin/users',
      '/portal/admin/contacts',
      '/portal/admin/ladder',
      '/portal/admin/roster',
      '/portal/admin/roster/download',
    ]) {
      const res = await s.get(path);
      expect(res.status, path).toBe(403);
      expect(res.text).toContain('You do not have access to this page');
    }
    for (const path of [
      '/portal/admin/users',
      '/portal/admin/contacts',
      `/portal/admin/contacts/${contact.id}/remove`,
      '/portal/admin/ladder',
      '/portal/admin/roster/save',
    ]) {
      expect((await s.post(path, { name: 'x' })).status, path).toBe(403);
    }
    expect(
      (await svc.api('GET', `/v1/providers/${provider.id}/contacts`, { key: provider.apiKey })).body.items,
    ).toHaveLength(1);
    const visitor = new PortalSession(svc.baseUrl);
    const res = await visitor.get('/portal/admin/ladder');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/portal/sign-in');
  });
});
