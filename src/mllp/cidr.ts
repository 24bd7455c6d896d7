/**
 * MLLP sender identities (CONTRACT.md "Security defaults"): the CIDR blocks of `mllpAllowedCidrs` and the SHA-256
 * certificate fingerprints of `mllpCertificateFingerprints`. Pure: parsing, canonical forms and matching.
 */
import { isIP } from 'node:net';
import { ipv4Bytes, ipv6Bytes } from '../net/ip-bytes.js';

/** One parsed CIDR block: the network's bytes (4 or 16) and its prefix length. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

export type CidrParse = { ok: true; cidr: Cidr; text: string } | { ok: false; reason: string };

/**
 * Parses `10.20.0.0/16`, `2001:db8::/32`, or a bare address (a block of one: `/32`, `/128`). Host bits must be zero
 * (`10.20.1.5/16` is refused, naming `10.20.0.0/16`: a typo there would otherwise widen or move the block silently).
 * `text` is the canonical form stored and shown: IPv6 lower-case and compressed (RFC 5952), always with a prefix.
 */
export function parseCidr(input: string): CidrParse {
  const raw = input.trim();
  const slash = raw.indexOf('/');
  const addr = slash === -1 ? raw : raw.slice(0, slash);
  const family = isIP(addr);
  if ((family !== 4 && family !== 6) || addr.includes('%')) {
    return { ok: false, reason: `${JSON.stringify(input)} is not an IPv4 or IPv6 address or CIDR block` };
  }
  const bytes = family === 4 ? ipv4Bytes(addr) : ipv6Bytes(addr);
  if (!bytes) return { ok: false, reason: `${JSON.stringify(input)} is not an IPv4 or IPv6 address or CIDR block` };
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = raw.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
      return { ok: false, reason: `${JSON.stringify(input)} has a prefix length that is not 0 to ${max}` };
    }
    prefix = Number(p);
  }
  const network = masked(bytes, prefix);
  const cidr: Cidr = { family, bytes: network, prefix };
  if (!network.every((b, i) => b === bytes[i])) {
    return {
      ok: false,
      reason: `${JSON.stringify(input)} has host bits set: the block is ${formatCidr(cidr)}`,
    };
  }
  return { ok: true, cidr, text: formatCidr(cidr) };
}

/** `10.20.0.0/16`, `2001:db8::/32`. */
export function formatCidr(c: Cidr): string {
  return `${c.family === 4 ? [...c.bytes].join('.') : formatIpv6(c.bytes)}/${c.prefix}`;
}

/**
 * True when `address` (as a socket reports it: IPv4, IPv6, or IPv4-mapped IPv6 `::ffff:a.b.c.d`) is inside `cidr`.
 * An IPv4-mapped address is matched as the IPv4 address it carries, so a listener on `::` and one on `0.0.0.0`
 * decide alike.
 */
export function cidrContains(cidr: Cidr, address: string): boolean {
  const bytes = addressBytes(address);
  if (!bytes || bytes.length !== cidr.bytes.length) return false;
  const m = masked(bytes, cidr.prefix);
  return m.every((b, i) => b === cidr.bytes[i]);
}

/** The bytes of a peer address, IPv4-mapped IPv6 unwrapped to its 4 IPv4 bytes; null when it is no address. */
export function addressBytes(address: string): Uint8Array | null {
  const family = isIP(address);
  if (family === 4) return ipv4Bytes(address);
  if (family !== 6) return null;
  const bytes = ipv6Bytes(address);
  if (!bytes) return null;
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

/**
 * A SHA-256 certificate fingerprint as stored: 64 upper-case hex digits, no colons. Accepts upper or lower case,
 * with or without colons (`AB:CD:…` as `openssl x509 -fingerprint -sha256` and Node's `fingerprint256` print it),
 * and an optional `sha256:`/`SHA256 Fingerprint=` prefix. Null when it is not one.
 */
export function normaliseFingerprint(input: string): string | null {
  const text = input
    .trim()
    .replace(/^sha-?256(\s+fingerprint)?\s*[:=]\s*/i, '')
    .replace(/[:\s]/g, '');
  return /^[0-9a-f]{64}$/i.test(text) ? text.toUpperCase() : null;
}

function masked(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** RFC 5952: lower-case, no leading zeros, the longest run (≥ 2) of zero groups as `::`, the first on a tie. */
function formatIpv6(bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2] ?? 0) << 8) | (bytes[i * 2 + 1] ?? 0));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
