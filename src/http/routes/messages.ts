/**
 * `GET /v1/messages` (operator only): the inbound messages as stored, newest first, so an operator can see what a
 * hospital sent and why a message was rejected. Metadata only: never the raw message or the parsed patient.
 */
import { Router } from 'express';
import { requireAdmin } from '../auth.js';
import type { AppDeps } from '../app.js';
import { badRequest } from '../problem.js';

const STATUSES = ['accepted', 'rejected', 'all'] as const;
const TRANSPORTS = ['http', 'mllp', 'fhir'] as const;

interface MessageRow {
  id: bigint;
  transport: string;
  hospital_ods: string | null;
  message_control_id: string | null;
  trigger: string | null;
  status: string;
  processing_id: string;
  is_primary: boolean;
  ack_code: string;
  http_status: number;
  error_code: string | null;
  error_reason: string | null;
  error_location: string | null;
  admission_id: string | null;
  event_at: Date | null;
  received_at: Date;
  dispatched_at: Date | null;
}

export function createMessageRoutes(deps: AppDeps): Router {
  const { sql } = deps;
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
    const rows = await sql<MessageRow[]>`
      select id, transport, hospital_ods, message_control_id, parsed->>'trigger' as trigger, status, processing_id, is_primary,
        ack_code, http_status, error_code, error_reason, error_location, admission_id, event_at, received_at,
        dispatched_at
      from inbound_messages
      where ${status === 'all' ? sql`true` : sql`status = ${status}`}
        and ${transport ? sql`transport = ${transport}` : sql`true`}
        and ${hospital ? sql`hospital_ods = ${hospital}` : sql`true`}
        and ${controlId ? sql`message_control_id = ${controlId}` : sql`true`}
        and ${processingId ? sql`processing_id = ${processingId}` : sql`true`}
      order by id desc limit ${limit} offset ${offset}`;
    res.json({
      items: rows.map((m) => ({
        id: String(m.id),
        transport: m.transport,
        hospitalOds: m.hospital_ods,
        messageControlId: m.message_control_id,
        trigger: m.trigger,
        status: m.status,
        /** MSH-11: `P` live; `T` (training) and `D` (debugging) never reach a stay */
        processingId: m.processing_id,
        /** false for a message that reused an earlier message's MSH-4 + MSH-10 with other content */
        primary: m.is_primary,
        ackCode: m.ack_code,
        httpStatus: m.http_status,
        error: m.error_code ? { code: m.error_code, reason: m.error_reason, location: m.error_location } : null,
        admissionId: m.admission_id,
        eventAt: m.event_at?.toISOString() ?? null,
        receivedAt: m.received_at.toISOString(),
        dispatchedAt: m.dispatched_at?.toISOString() ?? null,
      })),
      limit,
      offset,
    });
  });
  return r;
}
