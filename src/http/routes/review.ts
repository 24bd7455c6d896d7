/**
 * The review queue (CONTRACT.md "Unmatched, never silent"), operator only: `GET /v1/review` lists unmatched stays
 * not yet resolved, oldest first, with the providers that have a client of that NHS number; `POST
 * /v1/admissions/{id}/resolve` matches a stay to a provider's client (its alerts then go out) or dismisses it.
 */
import { Router } from 'express';
import { z } from 'zod';
import { isValidNhsNumber, normaliseNhsNumber } from '../../domain/nhs-number.js';
import { signalStayRematch, type StayStartSettings } from '../../temporal/stays.js';
import type { AppDeps } from '../app.js';
import { principal } from '../auth.js';
import { HttpProblem, notFound } from '../problem.js';
import { parseBody } from './registry.js';

const uuid = z.string().uuid();

const resolveBody = z.discriminatedUnion('action', [
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

export interface ReviewRouteDeps extends AppDeps {
  /** how stays' workflows are started: the relay's settings */
  stays: StayStartSettings;
}

export function createReviewRoutes(deps: ReviewRouteDeps): Router {
  const { sql } = deps;
  const r = Router();

  const operatorOnly = (req: Parameters<typeof principal>[0]) => {
    if (principal(req).kind !== 'admin') throw new HttpProblem(403, 'Forbidden', 'Only the operator may do this');
  };

  r.get('/review', async (req, res) => {
    operatorOnly(req);
    const rows = await sql<
      {
        id: string;
        hospital_ods: string;
        hospital_name: string | null;
        visit_number: string;
        status_reason_code: string | null;
        status_reason: string | null;
        since: Date | null;
        candidates: { providerId: string; providerOds: string }[] | null;
      }[]
    >`
      select ad.id, ad.hospital_ods, h.name as hospital_name, ad.visit_number, ad.status_reason_code, ad.status_reason,
        coalesce(ad.unmatched_since, ad.updated_at) as since,
        (select jsonb_agg(jsonb_build_object('providerId', p.id, 'providerOds', p.ods_code) order by p.ods_code)
           from clients c join providers p on p.id = c.provider_id where c.nhs_number = ad.nhs_number) as candidates
      from admissions ad left join hospitals h on h.ods_code = ad.hospital_ods
      where ad.status = 'unmatched' and ad.review_resolved_at is null
      order by coalesce(ad.unmatched_since, ad.updated_at), ad.id
      limit 1000`;
    res.json({
      items: rows.map((row) => ({
        admissionId: row.id,
        hospital: { odsCode: row.hospital_ods, name: row.hospital_name ?? row.hospital_ods },
        visitNumber: row.visit_number,
        statusReasonCode: row.status_reason_code,
        statusReason: row.status_reason,
        since: row.since?.toISOString() ?? null,
        candidates: row.candidates ?? [],
      })),
    });
  });

  r.post('/admissions/:admissionId/resolve', async (req, res) => {
    operatorOnly(req);
    const id = String(req.params.admissionId);
    if (!uuid.safeParse(id).success) throw notFound('admission');
    const body = parseBody(resolveBody, req.body);
    const [adm] = await sql<{ id: string; hospital_ods: string; visit_number: string; workflow_id: string }[]>`
      select id, hospital_ods, visit_number, workflow_id from admissions where id = ${id}`;
    if (!adm) throw notFound('admission');

    if (body.action === 'dismiss') {
      const [row] = await sql<{ review_resolved_at: Date }[]>`
        update admissions set review_resolution = 'dismissed', review_resolved_at = now(), review_resolved_by = 'operator',
          review_note = ${body.note}
        where id = ${id} returning review_resolved_at`;
      await sql`insert into audit_events (actor, action, entity_type, entity_id, details)
        values ('operator', 'review.dismissed', 'admission', ${id}, ${sql.json({ note: body.note })})`;
      res.json({ admissionId: id, resolution: 'dismissed', note: body.note, resolvedAt: row!.review_resolved_at.toISOString() });
      return;
    }

    const [client] = await sql<{ id: string; provider_ods: string }[]>`
      select c.id, p.ods_code as provider_ods from clients c join providers p on p.id = c.provider_id
      where c.provider_id = ${body.providerId} and c.nhs_number = ${body.nhsNumber}`;
    if (!client) {
      throw new HttpProblem(
        422,
        'No such client',
        'That provider has no client registered with that NHS number: register the client first, then resolve',
      );
    }
    const resolvedAt = await sql.begin(async (tx) => {
      await tx`insert into review_matches (admission_id, provider_id, client_id, by)
        values (${id}, ${body.providerId}, ${client.id}, 'operator')
        on conflict (admission_id, provider_id) do update set client_id = excluded.client_id`;
      const [row] = await tx<{ review_resolved_at: Date }[]>`
        update admissions set review_resolution = 'matched', review_resolved_at = now(), review_resolved_by = 'operator',
          review_note = ${body.note ?? null}
        where id = ${id} returning review_resolved_at`;
      await tx`insert into audit_events (actor, action, entity_type, entity_id, details)
        values ('operator', 'review.matched', 'admission', ${id},
          ${tx.json({ providerId: body.providerId, clientId: client.id })})`;
      return row!.review_resolved_at;
    });
    // the stay's workflow matches again (started again if it had finished): the provider's alerts go out
    try {
      await signalStayRematch(deps.temporal, deps.stays, {
        admissionId: adm.id,
        hospitalOds: adm.hospital_ods,
        visitNumber: adm.visit_number,
        workflowId: adm.workflow_id,
      });
    } catch (err) {
      deps.logger.error({ admissionId: id, err: (err as Error).message }, 'could not signal the stay after a review match');
      throw new HttpProblem(503, 'Service unavailable', 'The match is recorded but the stay could not be woken: resolve again to retry');
    }
    res.json({
      admissionId: id,
      resolution: 'matched',
      providerId: body.providerId,
      providerOds: client.provider_ods,
      resolvedAt: resolvedAt.toISOString(),
    });
  });

  return r;
}
