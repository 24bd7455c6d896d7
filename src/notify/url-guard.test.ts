import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookReceiver } from '../../test/support/webhook-receiver.js';
import type { WebhookReceiver } from '../../test/support/webhook-receiver.js';
import {
  BlockedAddressError,
  assertPublicAddress,
  blockedRange,
  checkWebhookUrl,
  isLoopbackHost,
  pinnedLookup,
} from './url-guard.js';

/** The guard as it always is (ALLOW_LOOPBACK_WEBHOOKS unset), whatever NODE_ENV says. */
const strict = { allowLoopback: false };
/** ALLOW_LOOPBACK_WEBHOOKS=true (tests and demos). */
const loopbackAllowed = { allowLoopback: true };

describe('checkWebhookUrl (syntactic, no DNS)', () => {
  it.each(['https://hooks.provider.example/alerts', 'https://hooks.provider.example:8443/a?b=c'])(
    'accepts %s, with or without ALLOW_LOOPBACK_WEBHOOKS',
    (url) => {
      expect(checkWebhookUrl(url, strict)).toEqual({ ok: true });
      expect(checkWebhookUrl(url, loopbackAllowed)).toEqual({ ok: true });
    },
  );

  it.each([
    ['http://hooks.provider.example/x', 'webhook URL must use https'],
    [
      'http://127.0.0.1:3000/x',
      'webhook URL host 127.0.0.1 is a loopback address; webhooks go only to public addresses',
    ],
    ['https://localhost/x', 'webhook URL host localhost is a loopback name; webhooks go only to public addresses'],
    [
      'https://api.localhost/x',
      'webhook URL host api.localhost is a loopback name; webhooks go only to public addresses',
    ],
    ['https://10.0.0.1/x', 'webhook URL host 10.0.0.1 is a private address; webhooks go only to public addresses'],
    ['http://10.0.0.1/', 'webhook URL host 10.0.0.1 is a private address; webhooks go only to public addresses'],
    ['https://127.1/x', 'loopback'],
    ['https://2130706433/x', 'loopback'],
    ['https://0x7f000001/x', 'loopback'],
    [
      'https://169.254.169.254/latest/meta-data/',
      'webhook URL host 169.254.169.254 is a link-local address; webhooks go only to public addresses',
    ],
    ['https://100.64.0.1/x', 'CGNAT'],
    ['https://[::1]/x', 'loopback'],
    ['https://[fd00::1]/x', 'unique local'],
    ['https://[::ffff:10.0.0.1]/x', 'IPv4-mapped'],
    ['https://user:pass@hooks.provider.example/x', 'credentials'],
    ['ftp://hooks.provider.example/x', 'https'],
    ['not a url', 'valid'],
  ])('rejects %s without ALLOW_LOOPBACK_WEBHOOKS (%s)', (url, why) => {
    const r = checkWebhookUrl(url, strict);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(why);
  });

  it.each([
    'http://localhost:3000/x',
    'http://127.0.0.1:9999/x',
    'http://127.8.9.10/x',
    'http://[::1]:8080/x',
    'https://127.0.0.1/x',
  ])('ALLOW_LOOPBACK_WEBHOOKS allows http(s) to loopback %s', (url) => {
    expect(checkWebhookUrl(url, loopbackAllowed)).toEqual({ ok: true });
  });

  it.each([
    ['http://192.168.1.5/x', 'private'],
    ['https://10.0.0.1/x', 'private'],
    ['http://10.0.0.1/', 'private'],
    ['https://169.254.169.254/latest/meta-data/', 'link-local'],
    ['http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['https://[fd00::1]/x', 'unique local'],
    ['https://[::ffff:127.0.0.1]/x', 'IPv4-mapped'],
    ['http://hooks.provider.example/x', 'https'],
  ])('ALLOW_LOOPBACK_WEBHOOKS still rejects %s (%s): loopback only', (url, why) => {
    const r = checkWebhookUrl(url, loopbackAllowed);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(why);
  });

  it('rejects credentials with ALLOW_LOOPBACK_WEBHOOKS too', () => {
    expect(checkWebhookUrl('http://u:p@localhost/x', loopbackAllowed).ok).toBe(false);
  });

  it('rejects absurdly long URLs', () => {
    expect(checkWebhookUrl(`https://hooks.provider.example/${'a'.repeat(3000)}`, strict).ok).toBe(false);
  });
});

describe('blockedRange', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['10.255.1.1', 'private'],
    ['100.127.255.255', 'CGNAT (shared)'],
    ['127.0.0.1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::ffff:8.8.8.8', 'IPv4-mapped'],
    ['::ffff:7f00:1', 'IPv4-mapped'],
    ['fc00::1', 'unique local (ULA)'],
    ['fdff:ffff::1', 'unique local (ULA)'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['64:ff9b::a00:1', 'NAT64-embedded private'],
    ['2002:c0a8:101::1', '6to4-embedded private'],
  ])('%s is %s', (ip, label) => {
    expect(blockedRange(ip)).toBe(label);
  });

  it.each(['8.8.8.8', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2a00:1450:4009:81f::200e', '64:ff9b::808:808'])(
    '%s is public',
    (ip) => {
      expect(blockedRange(ip)).toBeNull();
    },
  );
});

describe('isLoopbackHost', () => {
  it('knows localhost, 127.0.0.0/8 and ::1 and nothing else', () => {
    expect(['localhost', '127.0.0.1', '127.255.0.9', '[::1]', '::1'].every(isLoopbackHost)).toBe(true);
    expect(['10.0.0.1', 'example.com', '::2', 'localhost.example.com'].some(isLoopbackHost)).toBe(false);
  });
});

describe('assertPublicAddress (DNS at send time)', () => {
  it('returns the addresses of a name that resolves only to public addresses', async () => {
    const resolve = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
    ];
    await expect(assertPublicAddress('hooks.provider.example', { resolve })).resolves.toHaveLength(2);
  });

  it('rejects a name with any private address among its answers', async () => {
    const resolve = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    await expect(assertPublicAddress('rebind.example', { resolve })).rejects.toBeInstanceOf(BlockedAddressError);
  });

  it('rejects localhost through the real resolver', async () => {
    await expect(assertPublicAddress('localhost')).rejects.toBeInstanceOf(BlockedAddressError);
  });

  it('allowLoopback lets loopback answers through, and nothing else', async () => {
    await expect(assertPublicAddress('localhost', { allowLoopback: true })).resolves.not.toHaveLength(0);
    await expect(assertPublicAddress('127.0.0.1', { allowLoopback: true })).resolves.toEqual([
      { address: '127.0.0.1', family: 4 },
    ]);
    for (const ip of ['10.0.0.1', '169.254.169.254', '192.168.0.1', 'fd00::1', '::ffff:127.0.0.1']) {
      await expect(assertPublicAddress(ip, { allowLoopback: true })).rejects.toBeInstanceOf(BlockedAddressError);
    }
    const resolve = async () => [
      { address: '127.0.0.1', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    await expect(assertPublicAddress('mixed.example', { resolve, allowLoopback: true })).rejects.toThrow(
      'mixed.example resolves to 10.0.0.7, a private address; webhooks go only to public addresses',
    );
  });

  it('checks IP literals without DNS', async () => {
    const resolve = async () => {
      throw new Error('must not resolve');
    };
    await expect(assertPublicAddress('[fe80::1]', { resolve })).rejects.toBeInstanceOf(BlockedAddressError);
    await expect(assertPublicAddress('8.8.8.8', { resolve })).resolves.toEqual([{ address: '8.8.8.8', family: 4 }]);
  });

  it('passes DNS errors through (transient: the caller retries)', async () => {
    const resolve = async () => {
      throw Object.assign(new Error('queryA ETIMEOUT'), { code: 'ETIMEOUT' });
    };
    await expect(assertPublicAddress('slow.example', { resolve })).rejects.toMatchObject({ code: 'ETIMEOUT' });
  });
});

describe('pinnedLookup', () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('makes node:http connect to the checked address whatever the name would resolve to', async () => {
    const port = new URL(receiver.baseUrl).port;
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `http://pinned.invalid:${port}/pinned`,
        { method: 'POST', agent: false, lookup: pinnedLookup([{ address: '127.0.0.1', family: 4 }]) },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    expect(status).toBe(200);
    expect(receiver.received('/pinned')).toHaveLength(1);
  });

  it('fails with ENOTFOUND when no checked address has the family asked for', async () => {
    const lookup = pinnedLookup([{ address: '127.0.0.1', family: 4 }]);
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      lookup('h', { family: 6 }, (e) => resolve(e)),
    );
    expect(err?.code).toBe('ENOTFOUND');
  });
});
