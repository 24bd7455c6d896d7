import { createHmac } from 'node:crypto';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookReceiver } from '../../test/support/webhook-receiver.js';
import type { WebhookReceiver } from '../../test/support/webhook-receiver.js';
import { RetryableDeliveryError } from './channel.js';
import type { WebhookBody } from './channel.js';
import { createWebhookSender, signWebhook, verifyWebhookSignature } from './webhook.js';
import type { WebhookSenderOptions } from './webhook.js';

const SECRET = 'whsec_test_0123456789abcdef';

function body(id = 'evt_0001'): WebhookBody {
  return {
    id,
    type: 'admission',
    alertId: 'alt_1',
    admissionId: 'adm_1',
    escalationStep: 1,
    occurredAt: '2026-11-22T09:20:00Z',
    patient: {
      nhsNumber: '9995260182',
      familyName: 'SMITH',
      givenName: 'MARGARET',
      dateOfBirth: '1941-03-12',
      reference: 'CL-0042',
    },
    hospital: { odsCode: 'RX1', name: 'Royal Example Hospital' },
    location: { ward: 'Ward 12 Elderly Care', bed: '12' },
    acknowledgeUrl: 'http://localhost:3000/a/tok_123',
  };
}

let receiver: WebhookReceiver;
let logLines: string[] = [];

function sender(overrides: Partial<WebhookSenderOptions> = {}) {
  logLines = [];
  const logger: Logger = pino({ level: 'trace' }, { write: (s: string) => void logLines.push(s) });
  return createWebhookSender({ allowLoopback: true, logger, timeoutMs: 2_000, ...overrides });
}

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
});
afterEach(() => receiver.clear());
afterAll(async () => {
  await receiver.close();
});

describe('webhook sender against a local receiver', () => {
  it('POSTs the JSON body with a signature that verifies with the contact secret over "<t>.<raw body>"', async () => {
    const fixed = new Date('2026-11-22T09:20:05Z');
    const outcome = await sender({ now: () => fixed }).send(receiver.url('/hooks/p1'), SECRET, body());

    expect(outcome).toEqual({ status: 'sent' });
    const [got] = receiver.received('/hooks/p1');
    expect(got).toBeDefined();
    expect(got!.method).toBe('POST');
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['user-agent']).toBe('admission-alerts');
    expect(got!.headers['x-event-id']).toBe('evt_0001');
    expect(got!.body).toEqual(body());
    const t = Math.floor(fixed.getTime() / 1000);
    const expected = createHmac('sha256', SECRET).update(`${t}.${got!.rawBody}`).digest('hex');
    expect(got!.headers['x-signature']).toBe(`t=${t},v1=${expected}`);
    expect(verifyWebhookSignature(SECRET, got!.headers['x-signature'] as string, got!.rawBody, 300, fixed)).toBe(true);
  });

  it('the receiver’s own check (independent HMAC, current time) accepts the signature; another secret does not', async () => {
    receiver.setSecret('/hooks/other', 'a-different-secret');
    await sender().send(receiver.url('/hooks/p2'), SECRET, body());
    await sender().send(receiver.url('/hooks/other'), SECRET, body());

    expect(receiver.received('/hooks/p2')[0]?.signatureValid).toBe(true);
    expect(receiver.received('/hooks/other')[0]?.signatureValid).toBe(false);
  });

  it('a 500 is a RetryableDeliveryError naming the status; the retry carries the same event id and is delivered', async () => {
    receiver.failNext(500);
    const s = sender();
    const error = await s.send(receiver.url('/hooks/retry'), SECRET, body('evt_retry')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect((error as Error).message).toContain('500');

    await expect(s.send(receiver.url('/hooks/retry'), SECRET, body('evt_retry'))).resolves.toEqual({ status: 'sent' });
    const attempts = receiver.received('/hooks/retry');
    expect(attempts.map((a) => a.status)).toEqual([500, 200]);
    expect(attempts.map((a) => a.headers['x-event-id'])).toEqual(['evt_retry', 'evt_retry']);
    expect(attempts.map((a) => (a.body as WebhookBody).id)).toEqual(['evt_retry', 'evt_retry']);
    expect(attempts.every((a) => a.signatureValid)).toBe(true);
  });

  it('a 302 redirect is not followed and counts as a retryable failure', async () => {
    receiver.failNext(302, 1, { location: receiver.url('/elsewhere') });
    const error = await sender()
      .send(receiver.url('/hooks/moved'), SECRET, body())
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect((error as Error).message).toContain('302');
    expect(receiver.received('/elsewhere')).toHaveLength(0);
    expect(receiver.received()).toHaveLength(1);
  });

  it.each([400, 404, 410])(
    'a %i is still retried (CONTRACT: anything but 2xx is retried) and names the status',
    async (status) => {
      receiver.failNext(status);
      const error = await sender()
        .send(receiver.url('/hooks/4xx'), SECRET, body())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableDeliveryError);
      expect((error as Error).message).toContain(String(status));
    },
  );

  it('a receiver slower than timeoutMs is a RetryableDeliveryError', async () => {
    receiver.delayNext(1_000);
    const started = Date.now();
    const error = await sender({ timeoutMs: 200 })
      .send(receiver.url('/hooks/slow'), SECRET, body())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect((error as Error).message).toContain('200 ms');
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('connection refused is a RetryableDeliveryError', async () => {
    const gone = await startWebhookReceiver();
    const url = gone.url('/hooks/gone');
    await gone.close();
    await expect(sender().send(url, SECRET, body())).rejects.toBeInstanceOf(RetryableDeliveryError);
  });

  it('with allowLoopback (ALLOW_LOOPBACK_WEBHOOKS), http://127.0.0.1 is allowed but http to a non-loopback host is rejected', async () => {
    await expect(sender().send(receiver.url('/hooks/local'), SECRET, body())).resolves.toEqual({ status: 'sent' });
    await expect(sender().send('http://hooks.example.com/x', SECRET, body())).resolves.toMatchObject({
      status: 'rejected',
    });
  });

  it('with allowLoopback, private and link-local addresses are still rejected and nothing is sent', async () => {
    for (const url of ['http://10.0.0.1/', 'https://169.254.169.254/latest/meta-data/', 'https://[fd00::1]/x']) {
      await expect(sender().send(url, SECRET, body())).resolves.toMatchObject({ status: 'rejected' });
    }
  });

  it('without allowLoopback, loopback is rejected and nothing is sent', async () => {
    const outcome = await sender({ allowLoopback: false }).send(receiver.url('/hooks/prod'), SECRET, body());
    expect(outcome).toEqual({
      status: 'rejected',
      reason: 'webhook URL host 127.0.0.1 is a loopback address; webhooks go only to public addresses',
    });
    expect(receiver.received()).toHaveLength(0);
  });

  it('without allowLoopback, http to a public name is rejected (https required)', async () => {
    const outcome = await sender({ allowLoopback: false }).send('http://hooks.provider.example/x', SECRET, body());
    expect(outcome).toEqual({ status: 'rejected', reason: 'webhook URL must use https' });
  });

  it('a literal private or loopback address is rejected', async () => {
    const strict = sender({ allowLoopback: false });
    for (const url of [
      'https://127.0.0.1:8443/x',
      'https://10.1.2.3/x',
      'https://[::1]/x',
      'https://169.254.169.254/',
    ]) {
      await expect(strict.send(url, SECRET, body())).resolves.toMatchObject({ status: 'rejected' });
    }
  });

  it('with allowLoopback, a name that resolves to loopback is sent to the checked address', async () => {
    const port = new URL(receiver.baseUrl).port;
    const local = sender({ resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
    await expect(local.send(`http://localhost:${port}/hooks/named`, SECRET, body())).resolves.toEqual({
      status: 'sent',
    });
    expect(receiver.received('/hooks/named')).toHaveLength(1);
  });

  it('a host name that resolves to a private address is rejected at send time (DNS checked), loopback allowed or not', async () => {
    const prod = sender({
      resolve: async () => [
        { address: '93.184.216.34', family: 4 },
        { address: '192.168.1.20', family: 4 },
      ],
    });
    const outcome = await prod.send('https://hooks.provider.example/x', SECRET, body());
    expect(outcome.status).toBe('rejected');
    expect(outcome.status === 'rejected' && outcome.reason).toContain('192.168.1.20');
  });

  it('a DNS failure is retryable, not a rejection', async () => {
    const prod = sender({
      allowLoopback: false,
      resolve: async () => {
        throw Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
      },
    });
    await expect(prod.send('https://hooks.provider.example/x', SECRET, body())).rejects.toBeInstanceOf(
      RetryableDeliveryError,
    );
  });

  it('logs the host, event id and status but never the body, the path or the secret', async () => {
    receiver.failNext(503);
    const s = sender();
    await s.send(receiver.url('/hooks/secret-path?token=abc'), SECRET, body('evt_log')).catch(() => undefined);
    await s.send(receiver.url('/hooks/secret-path?token=abc'), SECRET, body('evt_log'));
    const logs = logLines.join('\n');

    expect(logs).toContain('evt_log');
    expect(logs).toContain(new URL(receiver.baseUrl).host);
    expect(logs).toContain('503');
    for (const leak of ['9995260182', 'SMITH', 'MARGARET', '1941', 'Ward 12', 'tok_123', 'secret-path', SECRET]) {
      expect(logs).not.toContain(leak);
    }
  });
});

describe('signWebhook / verifyWebhookSignature', () => {
  const raw = JSON.stringify(body());
  const now = new Date('2026-11-22T09:20:00Z');
  const t = Math.floor(now.getTime() / 1000);

  it('a signature made with the secret verifies', () => {
    expect(verifyWebhookSignature(SECRET, signWebhook(SECRET, raw, t), raw, 300, now)).toBe(true);
  });

  it('a changed body, another secret or a malformed header does not verify', () => {
    const header = signWebhook(SECRET, raw, t);
    expect(verifyWebhookSignature(SECRET, header, raw.replace('SMITH', 'JONES'), 300, now)).toBe(false);
    expect(verifyWebhookSignature('other', header, raw, 300, now)).toBe(false);
    expect(verifyWebhookSignature(SECRET, undefined, raw, 300, now)).toBe(false);
    expect(verifyWebhookSignature(SECRET, 'v1=abc', raw, 300, now)).toBe(false);
  });

  it('a signature older than the tolerance does not verify (replay)', () => {
    const old = signWebhook(SECRET, raw, t - 301);
    expect(verifyWebhookSignature(SECRET, old, raw, 300, now)).toBe(false);
    expect(verifyWebhookSignature(SECRET, old, raw, 600, now)).toBe(true);
  });

  it('a header with several v1 entries verifies when one matches (secret rotation)', () => {
    const good = signWebhook(SECRET, raw, t).split(',v1=')[1];
    const header = `t=${t},v1=${'0'.repeat(64)},v1=${good}`;
    expect(verifyWebhookSignature(SECRET, header, raw, 300, now)).toBe(true);
  });
});
