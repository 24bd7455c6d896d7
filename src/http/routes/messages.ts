/**
 * `GET /v1/messages` (operator only): the inbound messages as stored, newest first, so an operator can see what a
 * hospital sent and why a message was rejected. Metadata only: never the raw message or the parsed patient.
 */
import { Router } from 'express';
import * as messages from '../../db/messages.js';
import { requireAdmin } from '../auth.js';
import type { AppDeps } from '../app.js';
import { badRequest } from '../problem.js';

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
    const status = String(req.query.status ?? 'all');
    if (!(STATUSES as readonly string[]).includes(status)) {
      throw badRequest(`status must be one of ${STATUSES.join(', ')}`);
    }
    const transport = req.query.transport === undefined ? undefined : String(req.query.transport);
    if (transport !== undefined && !(TRANSPORTS as readonly string[]).includes(transport)) {
      throw badRequest(`transport must be one of ${TRANSPORTS.join(', ')}`);
    }
    const hospital = req.query.hospital === undefined ? undefined : String(req.query.hospital);
    const controlId = req.query.controlId === undefined ? undefined : String(req.query.controlId);
    const processingId =
      req.query.processingId === undefined ? undefined : String(req.query.processingId).trim().toUpperCase();
    if (processingId !== undefined && (processingId === '' || processingId.length > 20)) {
      throw badRequest('processingId must be an MSH-11 processing ID: P, T or D');
    }
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 100) || 100));
    const offset = Math.max(0, Number(req.query.offset ?? 0) || 0);
    const rows = await messages.list(db, {
      status: status === 'all' ? undefined : (status as 'accepted' | 'rejected'),
      transport: transport as messages.Transport | undefined,
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
