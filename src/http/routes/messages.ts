/**
 * `GET /v1/messages` (operator only): the inbound messages as stored, newest first, so an operator can see what a
 * hospital sent and why a message was rejected. Metadata only: never the raw message or the parsed patient.
 */
import { Router } from 'express';
import * as messages from '../../db/messages.js';
import { requireAdmin } from '../auth.js';
import type { AppDeps } from '../app.js';
import { badRequest } from '../problem.js';
import { oneOf, pagingQuery, parseQuery, text } from '../query.js';

const STATUSES = ['accepted', 'rejected', 'all'] as const;
const TRANSPORTS = ['http', 'mllp', 'fhir'] as const;

export function createMessageRoutes(deps: AppDeps): Router {
  const { db } = deps;
  const r = Router();

  /**
   * Query: `status` accepted|rejected|all (default all), `hospital` (MSH-4), `controlId` (MSH-10), `transport`
   * http|mllp|fhir, `processingId` (MSH-11: `P` live, `T` training, `D` debugging, or a refused value as sent; FHIR
   * is `P`), `limit` (1..1000, default 100), `offset`.
   */
  r.get('/messages', async (req, res) => {
    requireAdmin(req);
    const q = parseQuery(req, {
      status: oneOf('status', STATUSES).default('all'),
      transport: oneOf('transport', TRANSPORTS).optional(),
      hospital: text('hospital').optional(),
      controlId: text('controlId').optional(),
      processingId: text('processingId', 20).optional(),
      ...pagingQuery,
    });
    const { status, transport, hospital, controlId, limit, offset } = q;
    const processingId = q.processingId?.trim().toUpperCase();
    if (processingId === '') throw badRequest('processingId must be an MSH-11 processing ID: P, T or D');
    const rows = await messages.list(db, {
      status: status === 'all' ? undefined : (status as 'accepted' | 'rejected'),
      transport,
      hospitalOds: hospital,
      controlId,
      processingId,
      limit,
      offset,
    });
    res.json({
      items: rows.map((m) => ({
        id: String(m.id),
        transport: m.transport,
        hospitalOds: m.hospitalOds,
        messageControlId: m.messageControlId,
        trigger: m.trigger,
        status: m.status,
        /** MSH-11: `P` live; `T` (training) and `D` (debugging) never reach a stay */
        processingId: m.processingId,
        /** false for a message that reused an earlier message's MSH-4 + MSH-10 with other content */
        primary: m.isPrimary,
        ackCode: m.ackCode,
        httpStatus: m.httpStatus,
        error: m.errorCode ? { code: m.errorCode, reason: m.errorReason, location: m.errorLocation } : null,
        admissionId: m.admissionId,
        eventAt: m.eventAt?.toISOString() ?? null,
        receivedAt: m.receivedAt.toISOString(),
        dispatchedAt: m.dispatchedAt?.toISOString() ?? null,
      })),
      limit,
      offset,
    });
  });
  return r;
}
