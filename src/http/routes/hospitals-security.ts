/**
 * Hospitals' MLLP senders (CONTRACT.md "Security defaults"): `mllpAllowedCidrs` and `mllpCertificateFingerprints` on
 * `POST /v1/hospitals` (registry.ts uses {@link mllpSendersShape} and {@link saveMllpSenders}), in the hospital view
 * ({@link withMllpSenders}), and `PATCH /v1/hospitals/{id}` (operator) to change them.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { mllpSendersOf, setMllpSenders, updateMllpSenders, type MllpSenders } from '../../db/hospital-security.js';
import { normaliseFingerprint, parseCidr } from '../../mllp/cidr.js';
import type { AppDeps } from '../app.js';
import { requireAdmin } from '../auth.js';
import { silenceAlertSecondsShape, wakeFeedWatcher } from './feeds.js';
import { HttpProblem, notFound } from '../problem.js';

/** At most this many CIDR blocks per hospital. */
export const MAX_ALLOWED_CIDRS = 100;
/** At most this many bound certificates per hospital (a few, while one is being replaced). */
export const MAX_CERTIFICATE_FINGERPRINTS = 20;

const cidr = z.string().transform((text, ctx) => {
  const parsed = parseCidr(text);
  if (parsed.ok) return parsed.text;
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed.reason });
  return z.NEVER;
});

const fingerprint = z.string().transform((text, ctx) => {
  const fp = normaliseFingerprint(text);
  if (fp) return fp;
  ctx.addIssue({
    code: z.ZodIssueCode.custom,
    message: `${JSON.stringify(text.slice(0, 120))} is not a SHA-256 fingerprint (64 hex digits, colons allowed)`,
  });
  return z.NEVER;
});

const unique = (values: string[]) => [...new Set(values)];

/**
 * The two optional fields, validated and normalised: CIDR blocks in canonical form (`10.20.0.0/16`, `2001:db8::/32`;
 * a bare address is a block of one; host bits set is refused), fingerprints as 64 upper-case hex digits without
 * colons; duplicates dropped, order kept. An empty array clears a list.
 */
export const mllpSendersShape = {
  mllpAllowedCidrs: z
    .array(cidr, { invalid_type_error: 'must be an array of CIDR blocks, e.g. ["10.20.0.0/16"]' })
    .max(MAX_ALLOWED_CIDRS, `must hold at most ${MAX_ALLOWED_CIDRS} CIDR blocks`)
    .transform(unique)
    .optional(),
  mllpCertificateFingerprints: z
    .array(fingerprint, { invalid_type_error: 'must be an array of SHA-256 certificate fingerprints' })
    .max(MAX_CERTIFICATE_FINGERPRINTS, `must hold at most ${MAX_CERTIFICATE_FINGERPRINTS} fingerprints`)
    .transform(unique)
    .optional(),
};

const patchBody = z
  .object({ ...mllpSendersShape, ...silenceAlertSecondsShape })
  .strict()
  .refine(
    (b) =>
      b.mllpAllowedCidrs !== undefined ||
      b.mllpCertificateFingerprints !== undefined ||
      b.silenceAlertSeconds !== undefined,
    'must set at least one of mllpAllowedCidrs, mllpCertificateFingerprints, silenceAlertSeconds',
  );

/**
 * The MLLP fields a parsed body carried (normalised), for its answer; `{}` when it carried none (a provider's body,
 * or a hospital's without them).
 */
export function mllpSendersGiven(parsed: object): Partial<MllpSenders> {
  const body = parsed as Partial<MllpSenders>;
  return {
    ...(body.mllpAllowedCidrs !== undefined ? { mllpAllowedCidrs: body.mllpAllowedCidrs } : {}),
    ...(body.mllpCertificateFingerprints !== undefined
      ? { mllpCertificateFingerprints: body.mllpCertificateFingerprints }
      : {}),
  };
}

/** Stores the MLLP fields a registration carried (inside its transaction); nothing when it carried none. */
export async function saveMllpSenders(db: Db, hospitalId: string, body: object): Promise<void> {
  const given = mllpSendersGiven(body);
  if (Object.keys(given).length > 0) await setMllpSenders(db, hospitalId, given);
}

/** Hospitals as the operator sees them: each with its `mllpAllowedCidrs` and `mllpCertificateFingerprints`. */
export async function withMllpSenders<T extends { id: string }>(
  db: Db,
  rows: readonly T[],
): Promise<(T & MllpSenders)[]> {
  const senders = await mllpSendersOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => ({
    ...r,
    mllpAllowedCidrs: senders.get(r.id)?.mllpAllowedCidrs ?? [],
    mllpCertificateFingerprints: senders.get(r.id)?.mllpCertificateFingerprints ?? [],
  }));
}

function parse<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const errors = r.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
  throw new HttpProblem(400, 'Invalid request', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createHospitalSecurityRoutes(
  deps: Pick<AppDeps, 'db' | 'mllpSendersChanged' | 'temporal' | 'config' | 'logger'>,
): Router {
  const r = Router();

  /**
   * `PATCH /v1/hospitals/{id}` (operator) `{mllpAllowedCidrs?, mllpCertificateFingerprints?, silenceAlertSeconds?}`:
   * each list given replaces the stored one (`[]` clears it), a threshold given replaces the feed's (CONTRACT.md
   * "Feeds"); 200 with the hospital view. Audited (`hospital.mllp-senders.updated`, `hospital.feed-settings.updated`).
   * This process's MLLP listener sees the change at once, other API processes within 5 s.
   */
  r.patch('/hospitals/:id', async (req: Request, res) => {
    requireAdmin(req);
    const id = String(req.params.id);
    if (!UUID.test(id)) throw notFound('hospital');
    const body = parse(patchBody, req.body);
    const silence = body.silenceAlertSeconds !== undefined ? { silenceAlertSeconds: body.silenceAlertSeconds } : {};
    const row = await updateMllpSenders(deps.db, id, { ...mllpSendersGiven(body), ...silence }, 'operator');
    if (!row) throw notFound('hospital');
    deps.mllpSendersChanged?.();
    // the feed watcher looks again at once with the new threshold
    if (body.silenceAlertSeconds !== undefined) await wakeFeedWatcher(deps, row, true);
    res.json(row);
  });

  return r;
}
