/**
 * The Temporal Web UI as an operator sees it (CONTRACT.md second "Operators" section), in Debian's Chromium against
 * the test run's dev server: the workflow list filtered to one provider's stays, and one stay's page showing its
 * static summary and current details. `SCREENSHOTS=1 npx vitest run test/e2e/temporal-ui.e2e.test.ts` saves the
 * README's screenshots (docs/screenshots/temporal-ui-*.png).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchBrowser, saveScreenshot } from '../support/browser.js';
import { eventually } from '../support/fixtures.js';
import {
  admissionOf,
  newSpell,
  registerClient,
  spellMessage,
  startStory,
  stopStory,
  storyHelpers,
  webhookLadderProvider,
  type Story,
} from '../support/scenario.js';

let story: Story;
let browser: Browser;
const ods = `VW${Date.now().toString(36).slice(-4).toUpperCase()}`;
const escalated = newSpell();
const acknowledged = newSpell();
const { send, webhookOf } = storyHelpers(() => story);

beforeAll(async () => {
  [story, browser] = await Promise.all([startStory(), launchBrowser()]);
  const { provider } = await webhookLadderProvider(story, ods, { waitSeconds: 3 });
  for (const spell of [escalated, acknowledged]) {
    await registerClient(story.svc, provider, spell.nhs, { dateOfBirth: '1941-03-12', reference: 'CL-0042' });
  }
  await send(spellMessage('a01-admit.hl7', acknowledged));
  const hook = await webhookOf(ods, 'admission');
  const ack = await story.svc.api('POST', `/v1/alerts/${hook.alertId}/acknowledge`, {
    key: provider.apiKey,
    body: { by: 'Day coordinator', outcome: 'visits-paused' },
  });
  expect(ack.status).toBe(200);
  await send(spellMessage('a01-admit.hl7', escalated));
  await story.hooks.waitFor((r) => r.path === `/${ods}/c2`, 30_000);
  await eventually(async () => (await admissionOf(story.svc, acknowledged.visit))?.status === 'acknowledged');
});
afterAll(async () => {
  await browser?.close();
  await stopStory(story);
});

const ui = () => inject('temporalUiUrl');

/** Opens `path` in the UI, retrying while the UI server is still starting. */
async function open(page: Page, path: string): Promise<void> {
  await eventually(async () => (await page.goto(`${ui()}${path}`))?.ok() === true, 30_000, `${path} in the Web UI`);
}

describe('the Temporal Web UI (Chromium)', () => {
  it("the workflow list, filtered to one provider's stays, shows each stay's workflow and status", async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const query = encodeURIComponent(`ProviderOds = "${ods}"`);
    await open(page, `/namespaces/default/workflows?query=${query}`);
    for (const spell of [escalated, acknowledged]) {
      await page.getByText(`admission-RX1-${spell.visit}`).first().waitFor({ timeout: 30_000 });
    }
    await saveScreenshot(page, 'temporal-ui-workflows');
    await page.close();
  });

  it("a stay's page shows its static summary, static and current details, and summaries on its events", async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const id = `admission-RX1-${escalated.visit}`;
    const { runId } = await story.svc.temporal.client.workflow.getHandle(id).describe();
    await open(page, `/namespaces/default/workflows/${id}/${runId}/history`);
    // the history lists each activity with its summary
    await page
      .getByText('deliver webhook to On-call manager (coordinator), step 2')
      .first()
      .waitFor({ timeout: 30_000 });
    await page
      .getByRole('link', { name: 'User Metadata' })
      .or(page.getByRole('tab', { name: 'User Metadata' }))
      .first()
      .click();
    // the summary and details are Markdown, rendered in frames of their own
    const rendered = async () =>
      [
        await page.locator('body').innerText(),
        ...(await Promise.all(
          page.frames().map((f) =>
            f
              .locator('body')
              .innerText()
              .catch(() => ''),
          ),
        )),
      ].join('\n');
    const text = await eventually(
      async () => {
        const t = await rendered();
        return (
          t.includes(`Hospital RX1 · visit ${escalated.visit} · admitted 2026-11-22T09:20:00Z`) &&
          t.includes('tried On-call manager (coordinator) by webhook at step 2: sent') &&
          t
        );
      },
      30_000,
      'the summary and current details on the page',
    );
    expect(text).toContain('Status: unacknowledged');
    expect(text).not.toContain(escalated.nhs);
    expect(text).not.toMatch(/SMITH|MARGARET|1941-03-12/);
    await saveScreenshot(page, 'temporal-ui-stay');
    await page.close();
  });
});
