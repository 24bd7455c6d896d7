/**
 * The review queue (CONTRACT.md "Unmatched, never silent"), operator only: `GET /v1/review` lists unmatched stays
 * not yet resolved, oldest first, with the providers that have a client of that NHS number; `POST
 * /v1/admissions/{id}/resolve` matches a stay to a provider's client (its alerts then go out) or dismisses it.
 */
import { Router } from 'express';
import { z } from 'zod';
import * as admissions from '../../db/admissions.js';
import * as providers from '../../db/providers.js';
import { isValidNhsNumber, normaliseNhsNumber } from '../../domain/nhs-number.js';
import * as audit from '../../db/audit.js';
import { signalStayClose, signalStayRematch, stayRefOf, type StayStartSettings } from '../../temporal/stays.js';
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
  const { db } = deps;
  const r = Router();

  const operatorOnly = (req: Parameters<typeof principal>[0]) => {
    if (principal(req).kind !== 'admin') throw new HttpProblem(403, 'Forbidden', 'Only the operator may do this');
  };

  r.get('/review', async (req, res) => {
    operatorOnly(req);
    const rows = await admissions.reviewQueue(db);
    res.json({
      items: rows.map((row) => ({
        admissionId: row.id,
        hospital: { odsCode: row.hospitalOds, name: row.hospitalName ?? row.hospitalOds },
        visitNumber: row.visitNumber,
        statusReasonCode: row.statusReasonCode,
        statusReason: row.statusReason,
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
    const adm = await admissions.stayRef(db, id);
    if (!adm) throw notFound('admission');

    if (body.action === 'dismiss') {
      const resolvedAt = await admissions.dismissReview(db, id, body.note);
      res.json({ admissionId: id, resolution: 'dismissed', note: body.note, resolvedAt: resolvedAt.toISOString() });
      return;
    }

    const client = await providers.clientOfProvider(db, body.providerId, body.nhsNumber);
    if (!client) {
      throw new HttpProblem(
        422,
        'No such client',
        'That provider has no client registered with that NHS number: register the client first, then resolve',
      );
    }
    const resolvedAt = await admissions.matchReview(db, {
      admissionId: id,
      providerId: body.providerId,
      clientId: client.id,
      note: body.note,
    });
    // the stay's workflow matches again (started again if it had finished): the provider's alerts go out
    try {
      await signalStayRematch(deps.temporal, deps.stays, stayRefOf(adm));
    } catch (err) {
      deps.logger.error(
        { admissionId: id, err: (err as Error).message },
        'could not signal the stay after a review match',
      );
      throw new HttpProblem(
        503,
        'Service unavailable',
        'The match is recorded but the stay could not be woken: resolve again to retry',
      );
    }
    res.json({
      admissionId: id,
      resolution: 'matched',
      providerId: body.providerId,
      providerOds: client.providerOds,
      resolvedAt: resolvedAt.toISOString(),
    });
  });

  /**
   * `POST /v1/admissions/{id}/close` (operator) `{reason}`: the stay ends `closed` with `closed-by-operator`, its
   * alerts still awaiting an acknowledgement are withdrawn; a later event from the hospital reopens it. Answered once
   * the stay's workflow has the request (it is started to carry it out when none runs).
   */
  r.post('/admissions/:admissionId/close', async (req, res) => {
    operatorOnly(req);
    const id = String(req.params.admissionId);
    if (!uuid.safeParse(id).success) throw notFound('admission');
    const body = parseBody(closeBody, req.body);
    const adm = await admissions.stayRef(db, id);
    if (!adm) throw notFound('admission');
    try {
      await signalStayClose(deps.temporal, deps.stays, stayRefOf(adm), body.reason);
    } catch (err) {
      deps.logger.error({ admissionId: id, err: (err as Error).message }, 'could not signal the stay to close');
      throw new HttpProblem(503, 'Service unavailable', 'The stay could not be closed now: try again');
    }
    await audit.record(db, {
      actor: 'operator',
      action: 'admission.closed',
      entityType: 'admission',
      entityId: id,
      details: { reason: body.reason },
    });
    res.json({ admissionId: id, status: 'closed', statusReasonCode: 'closed-by-operator', reason: body.reason });
  });

  return r;
}

const closeBody = z.object({ reason: z.string().trim().min(1, 'must say why the stay is closed').max(2000) }).strict();
