/** API keys (`api_keys`): a hospital's or a provider's, stored as the SHA-256 of the secret. */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { apiKeys, hospitals, providers } from './schema.js';

export type ApiKey = typeof apiKeys.$inferSelect;

/** Whose key this is: a hospital or a provider, with its ODS code. */
export type KeyOwner =
  | { kind: 'hospital'; hospitalId: string; odsCode: string }
  | { kind: 'provider'; providerId: string; odsCode: string };

/** Records a new key for a hospital or a provider (in the transaction that registers it). */
export async function add(
  db: Db,
  key: { keyHash: string } & ({ kind: 'hospital'; hospitalId: string } | { kind: 'provider'; providerId: string }),
): Promise<void> {
  await db.orm.insert(apiKeys).values({
    keyHash: key.keyHash,
    kind: key.kind,
    hospitalId: key.kind === 'hospital' ? key.hospitalId : null,
    providerId: key.kind === 'provider' ? key.providerId : null,
  });
}

/** The owner of the key with this hash, unless it is unknown or revoked. */
export async function ownerOf(db: Db, keyHash: string): Promise<KeyOwner | undefined> {
  const [row] = await db.orm
    .select({
      kind: apiKeys.kind,
      hospitalId: apiKeys.hospitalId,
      providerId: apiKeys.providerId,
      ods: sql<string>`coalesce(${hospitals.odsCode}, ${providers.odsCode})`,
    })
    .from(apiKeys)
    .leftJoin(hospitals, eq(hospitals.id, apiKeys.hospitalId))
    .leftJoin(providers, eq(providers.id, apiKeys.providerId))
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)));
  if (!row) return undefined;
  return row.kind === 'hospital'
    ? { kind: 'hospital', hospitalId: row.hospitalId!, odsCode: row.ods }
    : { kind: 'provider', providerId: row.providerId!, odsCode: row.ods };
}
