/**
 * Hospitals' MLLP sender identities (CONTRACT.md "Security defaults"): `hospitals.mllp_allowed_cidrs` (CIDR blocks,
 * canonical text) and `hospitals.mllp_certificate_fingerprints` (SHA-256, 64 upper-case hex digits, no colons).
 * Values are validated and normalised before they get here (src/http/routes/hospitals-security.ts).
 */
import { transaction, type Db, type Sql } from './client.js';
import { setSilenceAlertSeconds } from './feeds.js';

/** What a hospital lets send as it over MLLP. Both empty: nobody (HTTP with its key still works). */
export interface MllpSenders {
  mllpAllowedCidrs: string[];
  mllpCertificateFingerprints: string[];
}

/** A hospital as the operator sees it, with its MLLP senders. */
export interface HospitalSecurityView extends MllpSenders {
  id: string;
  odsCode: string;
  name: string;
  createdAt: Date;
  /** CONTRACT.md "Feeds" */
  silenceAlertSeconds: number;
}

/** Every hospital that can send over MLLP at all (an allow-list or a bound certificate), by ODS code. */
export async function listMllpSenders(db: Db): Promise<(MllpSenders & { odsCode: string })[]> {
  const { sql } = db;
  return sql<(MllpSenders & { odsCode: string })[]>`
    select ods_code as "odsCode", mllp_allowed_cidrs as "mllpAllowedCidrs",
      mllp_certificate_fingerprints as "mllpCertificateFingerprints"
    from hospitals
    where cardinality(mllp_allowed_cidrs) > 0 or cardinality(mllp_certificate_fingerprints) > 0`;
}

/** The MLLP senders of the given hospitals, by hospital id (ids that are no hospital are absent). */
export async function mllpSendersOf(db: Db, hospitalIds: readonly string[]): Promise<Map<string, MllpSenders>> {
  const { sql } = db;
  if (hospitalIds.length === 0) return new Map();
  const rows = await sql<(MllpSenders & { id: string })[]>`
    select id, mllp_allowed_cidrs as "mllpAllowedCidrs", mllp_certificate_fingerprints as "mllpCertificateFingerprints"
    from hospitals where id = any(${sql.array([...hospitalIds])}::uuid[])`;
  return new Map(
    rows.map((r) => [
      r.id,
      { mllpAllowedCidrs: r.mllpAllowedCidrs, mllpCertificateFingerprints: r.mllpCertificateFingerprints },
    ]),
  );
}

/**
 * Sets the lists that are given (a list left out keeps its value) on one hospital; for use inside the registering
 * transaction. False when there is no such hospital.
 */
export async function setMllpSenders(db: Db, hospitalId: string, senders: Partial<MllpSenders>): Promise<boolean> {
  const { sql } = db;
  const rows = await sql`
    update hospitals set
      mllp_allowed_cidrs = coalesce(${senders.mllpAllowedCidrs ? textArray(sql, senders.mllpAllowedCidrs) : null}::text[], mllp_allowed_cidrs),
      mllp_certificate_fingerprints = coalesce(${
        senders.mllpCertificateFingerprints ? textArray(sql, senders.mllpCertificateFingerprints) : null
      }::text[], mllp_certificate_fingerprints)
    where id = ${hospitalId} returning id`;
  return rows.length > 0;
}

/**
 * `PATCH /v1/hospitals/{id}`: replaces the MLLP lists that are given, with an audit row
 * (`hospital.mllp-senders.updated`, the new lists in `details`) when any is, and sets `silenceAlertSeconds` when
 * given (audited as `hospital.feed-settings.updated`), in one transaction. Undefined when there is no such hospital.
 */
export async function updateMllpSenders(
  db: Db,
  hospitalId: string,
  patch: Partial<MllpSenders> & { silenceAlertSeconds?: number },
  actor: string,
): Promise<HospitalSecurityView | undefined> {
  return transaction(db, async (txDb) => {
    const tx = txDb.sql;
    const { silenceAlertSeconds, ...lists } = patch;
    const listsGiven = lists.mllpAllowedCidrs !== undefined || lists.mllpCertificateFingerprints !== undefined;
    if (listsGiven && !(await setMllpSenders(txDb, hospitalId, lists))) return undefined;
    if (silenceAlertSeconds !== undefined) {
      if (!(await setSilenceAlertSeconds(txDb, hospitalId, silenceAlertSeconds, actor))) return undefined;
    }
    const [row] = await tx<HospitalSecurityView[]>`
      select id, ods_code as "odsCode", name, created_at as "createdAt",
        silence_alert_seconds as "silenceAlertSeconds", mllp_allowed_cidrs as "mllpAllowedCidrs",
        mllp_certificate_fingerprints as "mllpCertificateFingerprints"
      from hospitals where id = ${hospitalId}`;
    if (!row) return undefined;
    if (listsGiven) {
      await tx`insert into audit_events (actor, action, entity_type, entity_id, details)
        values (${actor}, 'hospital.mllp-senders.updated', 'hospital', ${hospitalId}, ${tx.json({
          mllpAllowedCidrs: row.mllpAllowedCidrs,
          mllpCertificateFingerprints: row.mllpCertificateFingerprints,
        })})`;
    }
    return row;
  });
}

/** A text[] parameter (postgres.js cannot infer the element type of an empty array). */
function textArray(sql: Sql, values: readonly string[]) {
  return sql.array([...values], 25 /* text */);
}
