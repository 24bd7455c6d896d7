import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CSRF_SECRET, LINK_LIFETIME_MS, listen, memoryLinks } from '../../../test/support/ack-pages.js';
import { createAckPagesRouter } from './ack-pages.js';

// The same pages in Chromium (axe, keyboard only): ack-pages.int.test.ts.

function csrfFrom(html: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error('no csrf field on the page');
  return match[1];
}

function form(fields: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  };
}

describe('acknowledgement pages over HTTP', () => {
  let clockMs = Date.parse('2026-11-22T10:00:00Z');
  const clock = () => new Date(clockMs);
  let store: ReturnType<typeof memoryLinks>;
  let server: Awaited<ReturnType<typeof listen>>;

  beforeEach(async () => {
    clockMs = Date.parse('2026-11-22T10:00:00Z');
    store = memoryLinks(clock);
    server = await listen(
      createAckPagesRouter({
        ...store.deps,
        csrfSecret: CSRF_SECRET,
        now: clock,
        rateLimit: { windowMs: 60_000, max: 50 },
      }),
    );
  });
  afterEach(async () => {
    await server.close();
  });

  it('GET of a valid link shows what happened and the form, and changes nothing', async () => {
    const token = store.add();
    const res = await fetch(`${server.baseUrl}/a/${token}`);
    const html = await res.text();

    expect(res.status).toBe(200);
    expect(html).toContain('A client of Kindly Home Care was admitted to Leeds General Infirmary.');
    expect(html).toContain('CL-0042');
    expect(html).toContain('Sunday 22 November 2026 at 9:20am');
    expect(html).toMatch(/value="visits-paused" checked/);
    expect(html).toContain('<html lang="en-GB"');
    expect(html.match(/<h1[\s>]/g)).toHaveLength(1);
    expect(store.calls.lookup).toEqual([token]);
    expect(store.calls.acknowledge).toEqual([]);
    expect((await fetch(`${server.baseUrl}/a/${token}`)).status).toBe(200);
  });

  it('pages are no-store, noindex, no-referrer, unframeable, with a self-only CSP', async () => {
    const res = await fetch(`${server.baseUrl}/a/${store.add()}`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-robots-tag')).toContain('noindex');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('a POST without the CSRF field is refused 403 and records nothing', async () => {
    const token = store.add();
    const res = await fetch(`${server.baseUrl}/a/${token}`, form({ outcome: 'noted', by: 'Sam' }));
    expect(res.status).toBe(403);
    expect(store.calls.acknowledge).toEqual([]);
  });

  it('a CSRF field made for another link, or tampered with, is refused 403', async () => {
    const token = store.add();
    const other = store.add();
    const otherCsrf = csrfFrom(await (await fetch(`${server.baseUrl}/a/${other}`)).text());
    const csrf = csrfFrom(await (await fetch(`${server.baseUrl}/a/${token}`)).text());
    const tampered = `${Number(csrf.split('.')[0]) + 1}.${csrf.split('.')[1] ?? ''}`;

    expect((await fetch(`${server.baseUrl}/a/${token}`, form({ csrf: otherCsrf, outcome: 'noted' }))).status).toBe(403);
    expect((await fetch(`${server.baseUrl}/a/${token}`, form({ csrf: tampered, outcome: 'noted' }))).status).toBe(403);
    expect(store.calls.acknowledge).toEqual([]);
  });

  it('a form older than a day is refused 403; the link itself still works', async () => {
    const token = store.add();
    const csrf = csrfFrom(await (await fetch(`${server.baseUrl}/a/${token}`)).text());
    clockMs += 25 * 60 * 60 * 1000;
    const res = await fetch(`${server.baseUrl}/a/${token}`, form({ csrf, outcome: 'noted' }));
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Open the alert again');
    expect((await fetch(`${server.baseUrl}/a/${token}`)).status).toBe(200);
  });

  it('a cross-site POST is refused 403 even with a valid CSRF field', async () => {
    const token = store.add();
    const csrf = csrfFrom(await (await fetch(`${server.baseUrl}/a/${token}`)).text());
    const crossSite = form({ csrf, outcome: 'noted' });
    crossSite.headers = { ...crossSite.headers, 'sec-fetch-site': 'cross-site' };
    const otherOrigin = form({ csrf, outcome: 'noted' });
    otherOrigin.headers = { ...otherOrigin.headers, origin: 'https://evil.example' };

    expect((await fetch(`${server.baseUrl}/a/${token}`, crossSite)).status).toBe(403);
    expect((await fetch(`${server.baseUrl}/a/${token}`, otherOrigin)).status).toBe(403);
    expect(store.calls.acknowledge).toEqual([]);
  });

  it('POST with the CSRF field acknowledges once: 200 confirmation, then 410 for every later use', async () => {
    const token = store.add();
    const csrf = csrfFrom(await (await fetch(`${server.baseUrl}/a/${token}`)).text());

    const res = await fetch(
      `${server.baseUrl}/a/${token}`,
      form({ csrf, outcome: 'not-our-client', by: '  Sam  Jones ' }),
    );
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain('Alert acknowledged');
    expect(html).toContain('Not our client');
    expect(html).toContain('Sam Jones');
    expect(store.calls.acknowledge).toEqual([{ token, outcome: 'not-our-client', by: 'Sam Jones' }]);

    const again = await fetch(`${server.baseUrl}/a/${token}`, form({ csrf, outcome: 'noted' }));
    expect(again.status).toBe(410);
    expect(await again.text()).toContain('This alert has already been acknowledged');
    expect(store.calls.acknowledge).toHaveLength(1);

    const get = await fetch(`${server.baseUrl}/a/${token}`);
    const usedHtml = await get.text();
    expect(get.status).toBe(410);
    expect(usedHtml).toContain('This alert has already been acknowledged');
    expect(usedHtml).toContain('Sam Jones');
    expect(usedHtml).toContain('Sunday 22 November 2026 at 10am');
  });

  it('an empty name is recorded as "link"', async () => {
    const token = store.add();
    const csrf = csrfFrom(await (await fetch(`${server.baseUrl}/a/${token}`)).text());
    expect((await fetch(`${server.baseUrl}/a/${token}`, form({ csrf, outcome: 'noted', by: '' }))).status).toBe(200);
    expect(store.calls.acknowledge).toEqual([{ token, outcome: 'noted', by: 'link' }]);
  });

  it("a POST with no outcome records the kind's default, as the API does", async () => {
    const token = store.add({ kind: 'discharge', defaultOutcome: 'visits-resumed' });
    const csrf = csrfFrom(await (await fetch(`${server.baseUrl}/a/${token}`)).text());
    const res = await fetch(`${server.baseUrl}/a/${token}`, form({ csrf }));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Visits resumed');
    expect(store.calls.acknowledge).toEqual([{ token, outcome: 'visits-resumed', by: 'link' }]);
  });

  it('an invalid outcome re-renders the form 400 with an error summary linking to the radios', async () => {
    const token = store.add();
    const csrf = csrfFrom(await (await fetch(`${server.baseUrl}/a/${token}`)).text());
    const res = await fetch(`${server.baseUrl}/a/${token}`, form({ csrf, outcome: 'discharged-home', by: 'Sam' }));
    const html = await res.text();
    expect(res.status).toBe(400);
    expect(html).toContain('There is a problem');
    expect(html).toContain('href="#outcome"');
    expect(html).toContain('<title>Error: ');
    expect(html).toContain('value="Sam"');
    expect(store.calls.acknowledge).toEqual([]);
  });

  it('an expired link shows the expired page 410, on GET and POST', async () => {
    const token = store.add({}, clockMs - LINK_LIFETIME_MS - 1);
    const res = await fetch(`${server.baseUrl}/a/${token}`);
    expect(res.status).toBe(410);
    expect(await res.text()).toContain('This link has expired');

    const nearlyExpired = store.add({}, clockMs - LINK_LIFETIME_MS + 60_000);
    const csrf = csrfFrom(await (await fetch(`${server.baseUrl}/a/${nearlyExpired}`)).text());
    clockMs += 2 * 60_000;
    const post = await fetch(`${server.baseUrl}/a/${nearlyExpired}`, form({ csrf, outcome: 'noted' }));
    expect(post.status).toBe(410);
    expect(await post.text()).toContain('This link has expired');
    expect(store.calls.acknowledge).toEqual([]);
  });

  it('an unknown or malformed link is 404', async () => {
    const res = await fetch(`${server.baseUrl}/a/${randomBytes(16).toString('base64url')}`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('Page not found');
    expect((await fetch(`${server.baseUrl}/a/%3Cscript%3E`)).status).toBe(404);
    expect(store.calls.lookup).toHaveLength(1);
  });

  it('an alert acknowledged by another route shows the already-acknowledged page 410', async () => {
    const token = store.add({ status: 'acknowledged' });
    const res = await fetch(`${server.baseUrl}/a/${token}`);
    expect(res.status).toBe(410);
    expect(await res.text()).toContain('This alert has already been acknowledged');
  });

  it('each kind of event is described in plain English, with no patient details', async () => {
    const cases = [
      [
        'discharge',
        'A client of Kindly Home Care was discharged, destination not known: check before resuming visits (Leeds General Infirmary).',
      ],
      ['death', 'A client of Kindly Home Care was reported to have died in hospital (Leeds General Infirmary).'],
      ['cancellation', 'Leeds General Infirmary cancelled the admission of a client of Kindly Home Care.'],
      ['transfer', 'A client of Kindly Home Care moved to a different ward at Leeds General Infirmary.'],
    ] as const;
    for (const [kind, sentence] of cases) {
      const html = await (await fetch(`${server.baseUrl}/a/${store.add({ kind })}`)).text();
      expect(html).toContain(sentence);
    }
  });

  it('text from the alert is escaped', async () => {
    const html = await (await fetch(`${server.baseUrl}/a/${store.add({ hospitalName: '<script>x</script>' })}`)).text();
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(html).not.toContain('<script>x</script>');
  });

  it('serves nhsuk-frontend CSS, JS and images under /a/assets with long cache headers', async () => {
    const page = await (await fetch(`${server.baseUrl}/a/${store.add()}`)).text();
    const css = /href="([^"]+\.css)"/.exec(page)?.[1] ?? '';
    const js = /from "([^"]+\.js)"/.exec(page)?.[1] ?? '';
    expect(css).toMatch(/^\/a\/assets\//);
    expect(js).toMatch(/^\/a\/assets\//);

    const cssRes = await fetch(`${server.baseUrl}${css}`);
    expect(cssRes.status).toBe(200);
    expect(cssRes.headers.get('content-type')).toContain('text/css');
    expect(cssRes.headers.get('cache-control')).toContain('max-age=31536000');
    const jsRes = await fetch(`${server.baseUrl}${js}`);
    expect(jsRes.status).toBe(200);
    expect(jsRes.headers.get('content-type')).toContain('javascript');
    const icon = await fetch(`${server.baseUrl}/a/assets/images/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('cache-control')).toContain('max-age=');
    expect((await fetch(`${server.baseUrl}/a/assets/..%2f..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${server.baseUrl}/a/assets/nothing-here.css`)).status).toBe(404);
  });
});

describe('acknowledgement pages rate limits', () => {
  let clockMs = Date.parse('2026-11-22T10:00:00Z');
  const clock = () => new Date(clockMs);
  const store = memoryLinks(clock);
  let server: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    server = await listen(
      createAckPagesRouter({
        ...store.deps,
        csrfSecret: CSRF_SECRET,
        now: clock,
        rateLimit: { windowMs: 60_000, max: 3, maxPerIp: 5 },
      }),
    );
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers 429 with Retry-After past the per-token, then the per-IP, limit; the window slides', async () => {
    const token = store.add();
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.baseUrl}/a/${token}`)).status).toBe(200);
    const limited = await fetch(`${server.baseUrl}/a/${token}`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(await limited.text()).toContain('too many attempts');

    // Same IP, other tokens: 2 more fit under the per-IP limit of 5.
    expect((await fetch(`${server.baseUrl}/a/${store.add()}`)).status).toBe(200);
    expect((await fetch(`${server.baseUrl}/a/${store.add()}`)).status).toBe(200);
    expect((await fetch(`${server.baseUrl}/a/${store.add()}`)).status).toBe(429);

    clockMs += 61_000;
    expect((await fetch(`${server.baseUrl}/a/${token}`)).status).toBe(200);
  });
});
