/**
 * A provider's escalation ladder (CONTRACT.md "Registry": `PUT /v1/providers/{id}/escalation-policy`): the rules a
 * policy must meet, the same for the API and the portal's ladder editor.
 */
import { z } from 'zod';
import * as audit from '../db/audit.js';
import type { Db } from '../db/client.js';
import * as providers from '../db/providers.js';
import type { EscalationPolicy } from '../domain/escalation.js';
import { check, type FieldError } from './validation.js';

/** The longest wait of one step: 7 days. */
export const MAX_WAIT_SECONDS = 7 * 24 * 3600;
export const MAX_STEPS = 20;
export const MAX_REPEAT = 10;

export const policyBody = z
  .object({
    steps: z
      .array(
        z
          .object({
            contactIds: z.array(z.string().uuid()).min(1, 'must name at least one contact'),
            channels: z.array(z.enum(['sms', 'email', 'webhook'])).min(1, 'must name at least one channel'),
            waitSeconds: z
              .number()
              .int('must be a whole number of seconds')
              .min(1, 'must be at least 1 second')
              .max(MAX_WAIT_SECONDS, `must be at most ${MAX_WAIT_SECONDS} seconds (7 days)`),
          })
          .strict(),
      )
      .min(1, 'must have at least one step')
      .max(MAX_STEPS),
    repeat: z.number().int().min(0).max(MAX_REPEAT).optional(),
  })
  .strict();

/** Each contact a step names that is not one of the provider's (undeleted) contacts, `known`. */
export function unknownContactErrors(
  policy: Pick<EscalationPolicy, 'steps'>,
  known: ReadonlySet<string>,
): FieldError[] {
  return policy.steps.flatMap((step, i) =>
    step.contactIds
      .filter((id) => !known.has(id))
      .map((id) => ({
        field: `steps.${i}.contactIds`,
        message: `unknown contact ${id} (not a contact of this provider)`,
      })),
  );
}

/**
 * Checks a policy (the body of `PUT /v1/providers/{id}/escalation-policy`) and, when it is good, sets it as the
 * provider's and audits `policy.updated` by `actor`. Nothing is changed when any rule fails.
 */
export async function savePolicy(
  db: Db,
  providerId: string,
  body: unknown,
  actor: string,
): Promise<{ ok: true; policy: EscalationPolicy } | { ok: false; errors: FieldError[] }> {
  const r = check(policyBody, body);
  if (!r.ok) return r;
  const ids = [...new Set(r.data.steps.flatMap((s) => s.contactIds))];
  const errors = unknownContactErrors(r.data, await providers.activeContactIds(db, providerId, ids));
  if (errors.length > 0) return { ok: false, errors };
  const policy: EscalationPolicy = { steps: r.data.steps, repeat: r.data.repeat ?? 0 };
  await providers.putPolicy(db, providerId, policy);
  await audit.record(db, { actor, action: 'policy.updated', entityType: 'provider', entityId: providerId });
  return { ok: true, policy };
}
