import { describe, expect, it } from 'vitest';
import { cidrContains, normaliseFingerprint, parseCidr } from './cidr.js';

function cidr(text: string) {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(r.reason);
  return r.cidr;
}

describe('parseCidr', () => {
  it.each([
    ['10.20.0.0/16', '10.20.0.0/16'],
    [' 10.20.0.0/16 ', '10.20.0.0/16'],
    ['127.0.0.1', '127.0.0.1/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8::/32', '2001:db8::/32'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1/128'],
    ['::1', '::1/128'],
    ['fe80::/10', 'fe80::/10'],
    ['2001:db8:0:0:1:0:0:0/112', '2001:db8:0:0:1::/112'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1/128'],
    ['::ffff:10.0.0.0/104', '::ffff:a00:0/104'],
  ])('%s is the block %s', (input, text) => {
    expect(parseCidr(input)).toMatchObject({ ok: true, text });
  });

  it.each([
    ['10.20.1.5/16', '"10.20.1.5/16" has host bits set: the block is 10.20.0.0/16'],
    ['10.0.0.0/33', '"10.0.0.0/33" has a prefix length that is not 0 to 32'],
    ['2001:db8::/129', '"2001:db8::/129" has a prefix length that is not 0 to 128'],
    ['10.0.0.0/', '"10.0.0.0/" has a prefix length that is not 0 to 32'],
    ['10.0.0/8', '"10.0.0/8" is not an IPv4 or IPv6 address or CIDR block'],
    ['example.org/24', '"example.org/24" is not an IPv4 or IPv6 address or CIDR block'],
    ['', '"" is not an IPv4 or IPv6 address or CIDR block'],
    ['fe80::1%eth0', '"fe80::1%eth0" is not an IPv4 or IPv6 address or CIDR block'],
  ])('%s is refused: %s', (input, reason) => {
    expect(parseCidr(input)).toEqual({ ok: false, reason });
  });
});

describe('cidrContains', () => {
  it('matches IPv4 peers, IPv4-mapped IPv6 peers as IPv4, and IPv6 peers', () => {
    expect(cidrContains(cidr('10.20.0.0/16'), '10.20.255.1')).toBe(true);
    expect(cidrContains(cidr('10.20.0.0/16'), '10.21.0.1')).toBe(false);
    expect(cidrContains(cidr('10.20.0.0/16'), '::ffff:10.20.3.4')).toBe(true);
    expect(cidrContains(cidr('127.0.0.1/32'), '127.0.0.2')).toBe(false);
    expect(cidrContains(cidr('127.0.0.1/32'), '127.0.0.1')).toBe(true);
    expect(cidrContains(cidr('2001:db8::/32'), '2001:db8:1::5')).toBe(true);
    expect(cidrContains(cidr('2001:db8::/32'), '2001:db9::5')).toBe(false);
    expect(cidrContains(cidr('0.0.0.0/0'), '::1')).toBe(false);
    expect(cidrContains(cidr('::/0'), '10.0.0.1')).toBe(false);
    expect(cidrContains(cidr('10.0.0.0/8'), 'unknown')).toBe(false);
  });
});

describe('normaliseFingerprint', () => {
  const hex = 'ab'.repeat(32);
  it.each([
    hex,
    hex.toUpperCase(),
    hex.match(/../g)!.join(':'),
    `SHA256 Fingerprint=${hex.toUpperCase().match(/../g)!.join(':')}`,
    `sha256:${hex}`,
  ])('%s is normalised to upper-case hex without colons', (input) => {
    expect(normaliseFingerprint(input)).toBe(hex.toUpperCase());
  });

  it.each(['ab'.repeat(20), 'zz'.repeat(32), `${hex}00`, ''])('%s is not a SHA-256 fingerprint', (input) => {
    expect(normaliseFingerprint(input)).toBeNull();
  });
});
