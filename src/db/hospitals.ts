/** Hospitals (`hospitals`): registration, and each hospital's own discharge code map. */
import { asc, eq, sql } from 'drizzle-orm';
import type { CodeMap } from '../domain/clinical.js';
import * as apiKeys from './api-keys.js';
import { transaction, type Db } from './client.js';
import { hospitals } from './schema.js';

export type Hospital = typeof hospitals.$inferSelect;
/** A hospital as the registry shows it. */
export type HospitalSummary = Pick<Hospital, 'id' | 'odsCode' | 'name' | 'createdAt' | 'silenceAlertSeconds'>;

const summary = {
  id: hospitals.id,
  odsCode: hospitals.odsCode,
  name: hospitals.name,
  createdAt: hospitals.createdAt,
  silenceAlertSeconds: hospitals.silenceAlertSeconds,
};

/**
 * Registers a hospital with its first API key (stored hashed), and its `silenceAlertSeconds` when given (else the
 * default, 7200), in one transaction. Undefined when the ODS code is
 * registered already (nothing is changed).
 */
export function register(
  db: Db,
  input: { odsCode: string; name: string; keyHash: string; silenceAlertSeconds?: number },
): Promise<Pick<Hospital, 'id' | 'odsCode' | 'name'> | undefined> {
  return transaction(db, async (tx) => {
    const [created] = await tx.orm
      .insert(hospitals)
      .values({
        odsCode: input.odsCode,
        name: input.name,
        ...(input.silenceAlertSeconds !== undefined ? { silenceAlertSeconds: input.silenceAlertSeconds } : {}),
      })
      .onConflictDoNothing({ target: hospitals.odsCode })
      .returning({ id: hospitals.id, odsCode: hospitals.odsCode, name: hospitals.name });
    if (!created) return undefined;
    await apiKeys.add(tx, { keyHash: input.keyHash, kind: 'hospital', hospitalId: created.id });
    return created;
  });
}

/** Every hospital, by ODS code. */
export function list(db: Db): Promise<HospitalSummary[]> {
  return db.orm.select(summary).from(hospitals).orderBy(asc(hospitals.odsCode));
}

export async function get(db: Db, id: string): Promise<HospitalSummary | undefined> {
  const [row] = await db.orm.select(summary).from(hospitals).where(eq(hospitals.id, id));
  return row;
}

/** The hospital with this id and its code map (null when none was set). */
export async function getCodeMap(
  db: Db,
  id: string,
): Promise<Pick<Hospital, 'id' | 'odsCode' | 'codeMap'> | undefined> {
  const [row] = await db.orm
    .select({ id: hospitals.id, odsCode: hospitals.odsCode, codeMap: hospitals.codeMap })
    .from(hospitals)
    .where(eq(hospitals.id, id));
  return row;
}

/** Replaces a hospital's code map (CONTRACT.md `PUT /v1/hospitals/{id}/code-map`). */
export async function setCodeMap(db: Db, id: string, map: CodeMap): Promise<void> {
  await db.orm
    .update(hospitals)
    .set({ codeMap: map, codeMapUpdatedAt: sql`now()` })
    .where(eq(hospitals.id, id));
}

/** The registered hospital with this ODS code (MSH-4), as ingestion needs it; undefined when there is none. */
export async function findByOds(db: Db, odsCode: string): Promise<{ codeMap: CodeMap | null } | undefined> {
  const [row] = await db.orm
    .select({ codeMap: hospitals.codeMap })
    .from(hospitals)
    .where(eq(hospitals.odsCode, odsCode));
  return row;
}
