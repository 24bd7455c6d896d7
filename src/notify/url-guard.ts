import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { ipv4Bytes, ipv6Bytes } from '../net/ip-bytes.js';

/**
 * The SSRF guard for webhook URLs (CONTRACT.md "Security defaults"): always on, whatever `NODE_ENV` says. https
 * only, public addresses only, checked at registration and again at every send, redirects not followed (the sender's
 * part). The one exception is `ALLOW_LOOPBACK_WEBHOOKS=true` (tests and demos, refused in production): then http or
 * https to loopback (localhost, 127.0.0.0/8, ::1) is allowed too, and nothing else is: private ranges, link-local
 * (cloud metadata) and the rest stay refused.
 *
 * Two layers:
 * - {@link checkWebhookUrl} is syntactic and cheap (registration time and again at send time);
 * - {@link assertPublicAddress} resolves the host at send time and refuses any address that is not public unicast
 *   (loopback allowed only with the flag). The sender then connects to exactly the addresses that were checked
 *   ({@link pinnedLookup}), so a DNS answer that changes between the check and the connection (DNS rebinding)
 *   cannot redirect the request.
 */

/** What the guard lets through besides public https: loopback, when `ALLOW_LOOPBACK_WEBHOOKS=true`. */
export interface GuardOptions {
  allowLoopback: boolean;
}

export type UrlCheck = { ok: true } | { ok: false; reason: string };

/** Resolves a host name to all of its addresses (node:dns/promises `lookup` with `all: true` by default). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

/** The longest webhook URL accepted. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** A host whose addresses must never be reached (private, link-local, loopback without the flag, ...). */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
}

/** The end of every refusal of a non-public host: what is allowed instead. */
const PUBLIC_ONLY = 'webhooks go only to public addresses';

/**
 * Syntactic check of a webhook URL: an absolute https URL without credentials whose host is not `localhost` nor a
 * literal non-public address. With `allowLoopback`, a loopback host (localhost, `*.localhost`, 127.0.0.0/8, ::1) is
 * allowed too, over http or https. Does no DNS.
 */
export function checkWebhookUrl(url: string, opts: GuardOptions): UrlCheck {
  if (url.length > MAX_WEBHOOK_URL_LENGTH) {
    return { ok: false, reason: `webhook URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters` };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, reason: 'webhook URL is not a valid absolute URL' };
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    return { ok: false, reason: `webhook URL must use https (got ${u.protocol.replace(/:$/, '')})` };
  }
  if (u.username !== '' || u.password !== '') {
    return { ok: false, reason: 'webhook URL must not contain credentials (user:password@)' };
  }
  const host = bareHostname(u.hostname);
  if (host === '') return { ok: false, reason: 'webhook URL has no host' };

  const loopback = isLocalhostName(host) || isLoopbackHost(host);
  if (loopback && opts.allowLoopback) return { ok: true };
  if (isLocalhostName(host))
    return { ok: false, reason: `webhook URL host ${host} is a loopback name; ${PUBLIC_ONLY}` };
  if (isIP(host) !== 0) {
    const range = blockedRange(host);
    if (range) return { ok: false, reason: `webhook URL host ${host} is a ${range} address; ${PUBLIC_ONLY}` };
  }
  if (u.protocol !== 'https:') return { ok: false, reason: 'webhook URL must use https' };
  return { ok: true };
}

/** `localhost`, an address in 127.0.0.0/8, or `::1` (brackets and a trailing dot are ignored). */
export function isLoopbackHost(hostname: string): boolean {
  const host = bareHostname(hostname);
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) {
    const bytes = ipv6Bytes(host);
    return bytes !== null && bytes.every((b, i) => b === (i === 15 ? 1 : 0));
  }
  return false;
}

/**
 * Resolves `hostname` (or takes it as is when it is an IP literal) and throws {@link BlockedAddressError} when any
 * of its addresses is not public unicast: unspecified, loopback, private (RFC 1918), CGNAT (100.64/10), link-local
 * (incl. cloud metadata 169.254.169.254), multicast, reserved/documentation ranges, IPv6 ULA (fc00::/7), IPv4-mapped
 * (::ffff:0:0/96), and NAT64/6to4 addresses embedding a blocked IPv4 address. With `allowLoopback`, loopback
 * addresses (127.0.0.0/8, ::1) pass; nothing else does. A name with one public and one private address is refused
 * as a whole. Returns the checked addresses so the caller can connect to exactly those ({@link pinnedLookup}). DNS
 * failures are thrown as they come (transient: the caller retries).
 */
export async function assertPublicAddress(
  hostname: string,
  opts: { resolve?: Resolver; allowLoopback?: boolean } = {},
): Promise<LookupAddress[]> {
  const host = bareHostname(hostname);
  const family = isIP(host);
  const addresses: LookupAddress[] =
    family !== 0 ? [{ address: host, family }] : await (opts.resolve ?? resolveAll)(host);
  if (addresses.length === 0) throw new Error(`${host} did not resolve to any address`);
  for (const { address } of addresses) {
    const range = blockedRange(address);
    if (range === 'loopback' && opts.allowLoopback) continue;
    if (range) {
      throw new BlockedAddressError(
        family !== 0
          ? `${host} is a ${range} address; ${PUBLIC_ONLY}`
          : `${host} resolves to ${address}, a ${range} address; ${PUBLIC_ONLY}`,
      );
    }
  }
  return addresses;
}

/** The node:dns lookup of all addresses, in the order the resolver gave them. */
export const resolveAll: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * A `lookup` for node:http / node:net that answers only with the given, already checked, addresses: the connection
 * goes to what {@link assertPublicAddress} approved, never to a second (possibly rebound) DNS answer.
 */
export function pinnedLookup(addresses: readonly LookupAddress[]): PinnedLookup {
  return (_hostname, options, callback) => {
    const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
    const usable = wanted === 0 ? [...addresses] : addresses.filter((a) => a.family === wanted);
    const first = usable[0];
    if (!first) {
      const err: NodeJS.ErrnoException = new Error(`no checked IPv${wanted} address for ${_hostname}`);
      err.code = 'ENOTFOUND';
      callback(err, '', 0);
      return;
    }
    if (options.all) callback(null, usable);
    else callback(null, first.address, first.family);
  };
}

/** The shape node:net calls `lookup` with (it asks for `all` when happy-eyeballs is on). */
export type PinnedLookup = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/**
 * The name of the non-public range `ip` falls in, or null for a public unicast address (or a string that is not an
 * IP address).
 */
export function blockedRange(ip: string): string | null {
  const host = bareHostname(ip);
  const family = isIP(host);
  if (family === 4) {
    const bytes = ipv4Bytes(host);
    return bytes ? matchRange(bytes, IPV4_BLOCKED) : null;
  }
  if (family === 6) {
    const bytes = ipv6Bytes(host);
    if (!bytes) return null;
    const range = matchRange(bytes, IPV6_BLOCKED);
    if (range) return range;
    // Addresses that carry an IPv4 address inside them reach that IPv4 host through a translator.
    if (inPrefix(bytes, NAT64.bytes, NAT64.bits)) return embedded(bytes.subarray(12, 16), 'NAT64');
    if (inPrefix(bytes, SIX_TO_FOUR.bytes, SIX_TO_FOUR.bits)) return embedded(bytes.subarray(2, 6), '6to4');
    return null;
  }
  return null;
}

function embedded(v4: Uint8Array, via: string): string | null {
  const range = matchRange(v4, IPV4_BLOCKED);
  return range ? `${via}-embedded ${range}` : null;
}

interface Range {
  bytes: Uint8Array;
  bits: number;
  label: string;
}

function v4(cidr: string, label: string): Range {
  const [addr = '', bits = ''] = cidr.split('/');
  const bytes = ipv4Bytes(addr);
  if (!bytes) throw new Error(`bad range ${cidr}`);
  return { bytes, bits: Number(bits), label };
}

function v6(cidr: string, label: string): Range {
  const [addr = '', bits = ''] = cidr.split('/');
  const bytes = ipv6Bytes(addr);
  if (!bytes) throw new Error(`bad range ${cidr}`);
  return { bytes, bits: Number(bits), label };
}

/** IANA IPv4 special-purpose ranges that a webhook must never reach (RFC 6890 and successors). */
const IPV4_BLOCKED: readonly Range[] = [
  v4('0.0.0.0/8', 'unspecified'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'CGNAT (shared)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'IETF protocol'),
  v4('192.0.2.0/24', 'documentation'),
  v4('192.88.99.0/24', '6to4 relay'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation'),
  v4('203.0.113.0/24', 'documentation'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'),
];

/** IPv6 special-purpose ranges (RFC 6890, RFC 4291) that a webhook must never reach. Order matters for labels. */
const IPV6_BLOCKED: readonly Range[] = [
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('::ffff:0:0/96', 'IPv4-mapped'),
  v6('::/96', 'IPv4-compatible'),
  v6('64:ff9b:1::/48', 'local-use NAT64'),
  v6('100::/64', 'discard-only'),
  v6('2001::/32', 'Teredo'),
  v6('2001:db8::/32', 'documentation'),
  v6('fc00::/7', 'unique local (ULA)'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'site-local'),
  v6('ff00::/8', 'multicast'),
];

const NAT64 = v6('64:ff9b::/96', 'NAT64');
const SIX_TO_FOUR = v6('2002::/16', '6to4');

function matchRange(bytes: Uint8Array, ranges: readonly Range[]): string | null {
  for (const r of ranges) {
    if (r.bytes.length === bytes.length && inPrefix(bytes, r.bytes, r.bits)) return r.label;
  }
  return null;
}

function inPrefix(bytes: Uint8Array, prefix: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const take = Math.min(8, bits - i);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[i >> 3] ?? 0) & mask) !== ((prefix[i >> 3] ?? 0) & mask)) return false;
  }
  return true;
}

/** URL hostnames keep IPv6 literals in brackets; names may end in a root dot. */
function bareHostname(hostname: string): string {
  let host = hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.') && isIP(host) === 0) host = host.slice(0, -1);
  return host;
}

/** `localhost` and names under `.localhost`, which resolve to loopback (RFC 6761). */
function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}
