/**
 * Resolving a review item (CONTRACT.md "Unmatched, never silent"), one place for the API (`POST
 * /v1/admissions/{id}/resolve`) and the operator pages: match the stay to a provider's client (the stay's workflow
 * matches again, so the provider's alerts go out) or dismiss it with a note. Audited with the caller as actor.
 */
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import * as admissions from '../db/admissions.js';
import type { Db } from '../db/client.js';
import * as providers from '../db/providers.js';
import { isValidNhsNumber, normaliseNhsNumber } from '../domain/nhs-number.js';
import { signalStayRematch, stayRefOf, type StayStartSettings } from '../temporal/stays.js';

/** What an operator may decide, as the API's body says it; the operator pages build the same object from a form. */
export const resolution = z.discriminatedUnion('action', [
  z
    .object({
      action: z.literal('match'),
      providerId: z.string().uuid('must be a provider id'),
      nhsNumber: z
        .string()
        .transform(normaliseNhsNumber)
        .refine(isValidNhsNumber, 'must be a valid NHS number (10 digits, modulus 11)'),
      note: z.string().trim().max(2000).optional(),
    })
    .strict(),
  z
    .object({
      action: z.literal('dismiss'),
      note: z.string().trim().min(1, 'must say why the item is dismissed').max(2000),
    })
    .strict(),
]);
export type Resolution = z.infer<typeof resolution>;

/** The problem details a refused resolution is answered with (the same words in the API and the portal). */
export const NO_SUCH_CLIENT =
  'That provider has no client registered with that NHS number: register the client first, then resolve';
export const NOT_WOKEN = 'The match is recorded but the stay could not be woken: resolve again to retry';

export type ResolveOutcome =
  | { kind: 'dismissed'; resolvedAt: Date }
  | { kind: 'matched'; providerId: string; providerOds: string; resolvedAt: Date }
  | { kind: 'no-such-admission' }
  /** the provider has no client of that NHS number: nothing is recorded */
  | { kind: 'no-such-client' }
  /** the match is recorded, but the stay's workflow could not be signalled: resolving again retries */
  | { kind: 'not-woken' };

export interface ResolveDeps {
  db: Db;
  temporal: Client;
  /** how stays' workflows are started: the relay's settings */
  stays: StayStartSettings;
  logger: Logger;
}

/** Resolves the stay's review item; `actor` goes into the audit trail (`operator`, or the signed-in operator). */
export async function resolveReview(
  deps: ResolveDeps,
  admissionId: string,
  r: Resolution,
  actor: string,
): Promise<ResolveOutcome> {
  const { db } = deps;
  const adm = await admissions.stayRef(db, admissionId);
  if (!adm) return { kind: 'no-such-admission' };

  if (r.action === 'dismiss') {
    return { kind: 'dismissed', resolvedAt: await admissions.dismissReview(db, adm.id, r.note, actor) };
  }

  const client = await providers.clientOfProvider(db, r.providerId, r.nhsNumber);
  if (!client) return { kind: 'no-such-client' };
  const resolvedAt = await admissions.matchReview(
    db,
    { admissionId: adm.id, providerId: r.providerId, clientId: client.id, note: r.note },
    actor,
  );
  // the stay's workflow matches again (started again if it had finished): the provider's alerts go out
  try {
    await signalStayRematch(deps.temporal, deps.stays, stayRefOf(adm));
  } catch (err) {
    deps.logger.error(
      { admissionId: adm.id, err: (err as Error).message },
      'could not signal the stay after a review match',
    );
    return { kind: 'not-woken' };
  }
  return { kind: 'matched', providerId: r.providerId, providerOds: client.providerOds, resolvedAt };
}
