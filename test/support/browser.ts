import { AxeBuilder } from '@axe-core/playwright';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';

/** One axe-core rule violation (what `AxeBuilder#analyze()` reports in `violations`). */
export type AxeViolation = Awaited<ReturnType<AxeBuilder['analyze']>>['violations'][number];

/** The WCAG levels the coordinator pages must meet: 2.0, 2.1 and 2.2, A and AA. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] as const;

/**
 * Launches the system Chromium headless, cut off from Google services so tests neither wait for nor talk to the
 * network. `CHROMIUM_PATH` overrides `/usr/bin/chromium` (Debian's package).
 */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Runs axe-core on the page as it is now and returns the WCAG 2.2 A/AA violations (empty when it passes). */
export async function checkA11y(page: Page): Promise<AxeViolation[]> {
  const results = await new AxeBuilder({ page }).withTags([...WCAG_TAGS]).analyze();
  return results.violations;
}

/** One line per violation and node, for an assertion message a person can act on. */
export function describeViolations(violations: readonly AxeViolation[]): string {
  return violations
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact ?? 'n/a'}): ${v.help} at ${n.target.join(' ')}`))
    .join('\n');
}

/**
 * A fresh context that never leaves the machine: the NHS font CDN (assets.nhs.uk, which nhsuk-frontend's CSS names)
 * is refused, so pages fall back to Arial as they would when it is blocked.
 */
export async function hermeticContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext();
  await context.route('https://assets.nhs.uk/**', (route) => route.abort());
  return context;
}

/** Content-Security-Policy violations the page reports on its console (they would break the page for users). */
export function collectCspViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  return violations;
}

/** An attribute of the focused element (evaluated in the page, so no DOM types are needed here). */
export async function focusedAttribute(page: Page, name: string): Promise<string | null> {
  return page.evaluate(`document.activeElement?.getAttribute(${JSON.stringify(name)}) ?? null`);
}

/** Presses Tab until the focused element has `attribute` = `value` (at most `max` times); false if never. */
export async function tabTo(page: Page, attribute: string, value: string, max = 25): Promise<boolean> {
  for (let i = 0; i < max; i++) {
    if ((await focusedAttribute(page, attribute)) === value) return true;
    await page.keyboard.press('Tab');
  }
  return (await focusedAttribute(page, attribute)) === value;
}

/**
 * Saves a full-page screenshot as `docs/screenshots/<name>.png` for the README, only when the run asks for it
 * (`SCREENSHOTS=1 npx vitest run <file>`); an ordinary `npm test` writes nothing into the tree.
 */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  if (process.env['SCREENSHOTS'] !== '1') return;
  const { mkdir } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const dir = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: `${dir}${name}.png`, fullPage: true });
}
