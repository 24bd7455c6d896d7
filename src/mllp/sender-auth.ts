/**
 * Who may send over MLLP (CONTRACT.md "Security defaults"). A hospital lets a connection send as it when:
 * - plain TCP: the peer's address is in the hospital's `mllpAllowedCidrs`;
 * - MLLP over TLS: the client certificate's SHA-256 fingerprint is one of the hospital's
 *   `mllpCertificateFingerprints` and, when the hospital also has an allow-list, the address is in it too.
 * A hospital with neither list lets nobody send as it over MLLP (HTTP with its key still works).
 *
 * Two checks use that one rule:
 * - at connect ({@link MllpSenderAuth.admits}): a peer that no hospital lets send is closed without an ACK, before
 *   anything it sent is read, so nothing of it is stored;
 * - per message ({@link MllpSender.mayActFor}, called by ingestion with MSH-4): a message whose hospital does not
 *   let this connection send as it is answered AR and not stored.
 *
 * The lists of every hospital are read in one query and remembered for {@link MLLP_SENDERS_CACHE_MS}; a change made
 * through this process's API ({@link MllpSenderAuth.changed}) is seen by the next connection and message at once,
 * other API processes see it within that time.
 */
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { listMllpSenders } from '../db/hospital-security.js';
import { cidrContains, parseCidr, type Cidr } from './cidr.js';

/** How long the allow-lists and bound certificates are remembered. */
export const MLLP_SENDERS_CACHE_MS = 5_000;

/** The connection a message came on, as the MLLP listener saw it. */
export interface MllpPeer {
  readonly remoteAddress: string;
  readonly connectionId: number;
  /** over TLS: SHA-256 of the verified client certificate, 64 upper-case hex digits */
  readonly certificateFingerprint?: string;
}

/** The sender of an MLLP message, handed to ingestion in its context. */
export interface MllpSender extends MllpPeer {
  /** Whether this connection may send messages as the hospital with this ODS code (MSH-4). */
  mayActFor(odsCode: string): Promise<boolean>;
}

export interface MllpSenderAuth {
  /** Connect-time check: does any hospital let this peer send? Throws when the lists cannot be read. */
  admits(peer: MllpPeer): Promise<boolean>;
  /** The sender object for the messages of one connection. */
  sender(peer: MllpPeer): MllpSender;
  /** Forget the remembered lists: a registration changed them (this process's API calls it). */
  changed(): void;
}

interface HospitalSenders {
  cidrs: Cidr[];
  fingerprints: ReadonlySet<string>;
}

/** The rule, for one hospital (see the module comment). */
export function hospitalAllows(h: HospitalSenders, peer: MllpPeer): boolean {
  const addressAllowed = h.cidrs.some((c) => cidrContains(c, peer.remoteAddress));
  if (peer.certificateFingerprint !== undefined) {
    return h.fingerprints.has(peer.certificateFingerprint) && (h.cidrs.length === 0 || addressAllowed);
  }
  return addressAllowed;
}

export function createMllpSenderAuth(deps: { db: Db; logger: Logger; cacheMs?: number }): MllpSenderAuth {
  const cacheMs = deps.cacheMs ?? MLLP_SENDERS_CACHE_MS;
  const log = deps.logger.child({ component: 'mllp' });
  let epoch = 0;
  let cached: { until: number; epoch: number; byOds: Map<string, HospitalSenders> } | undefined;
  let loading: { epoch: number; promise: Promise<Map<string, HospitalSenders>> } | undefined;

  async function load(): Promise<Map<string, HospitalSenders>> {
    const rows = await listMllpSenders(deps.db);
    const byOds = new Map<string, HospitalSenders>();
    for (const row of rows) {
      const cidrs: Cidr[] = [];
      for (const text of row.mllpAllowedCidrs) {
        const parsed = parseCidr(text);
        if (parsed.ok) cidrs.push(parsed.cidr);
        else log.error({ hospital: row.odsCode }, `stored MLLP allow-list entry ignored: ${parsed.reason}`);
      }
      byOds.set(row.odsCode, { cidrs, fingerprints: new Set(row.mllpCertificateFingerprints) });
    }
    return byOds;
  }

  /** Every hospital's senders, remembered for `cacheMs`; concurrent callers share one query. */
  function senders(): Promise<Map<string, HospitalSenders>> {
    if (cached && cached.epoch === epoch && cached.until > Date.now()) return Promise.resolve(cached.byOds);
    if (loading && loading.epoch === epoch) return loading.promise;
    const started = epoch;
    const promise = load().then(
      (byOds) => {
        if (started === epoch) cached = { until: Date.now() + cacheMs, epoch: started, byOds };
        if (loading?.promise === promise) loading = undefined;
        return byOds;
      },
      (err: unknown) => {
        if (loading?.promise === promise) loading = undefined;
        throw err;
      },
    );
    loading = { epoch: started, promise };
    return promise;
  }

  return {
    async admits(peer) {
      for (const h of (await senders()).values()) if (hospitalAllows(h, peer)) return true;
      return false;
    },
    sender(peer) {
      return {
        ...peer,
        async mayActFor(odsCode) {
          const h = (await senders()).get(odsCode);
          const allowed = h !== undefined && hospitalAllows(h, peer);
          if (!allowed) {
            log.warn(
              {
                connectionId: peer.connectionId,
                remoteAddress: peer.remoteAddress,
                tls: peer.certificateFingerprint !== undefined,
                hospital: odsCode,
                hospitalAcceptsMllp: h !== undefined,
              },
              'MLLP message refused: its hospital (MSH-4) does not allow this sender; answered AR, not stored',
            );
          }
          return allowed;
        },
      };
    },
    changed() {
      epoch++;
      cached = undefined;
    },
  };
}
