/** `POST /v1/hl7`: one HL7 v2 message in, one HL7 ACK out (CONTRACT.md). */
import express, { Router, type Request } from 'express';
import { notAuthenticated, UNAVAILABLE, type Decision } from '../../ingest/decision.js';
import { answerHl7, headerToAnswer } from '../../ingest/hl7-answer.js';
import type { AppDeps } from '../app.js';
import { HttpProblem } from '../problem.js';

export const HL7_CONTENT_TYPE = 'x-application/hl7-v2+er7';
const ACCEPTED_TYPES = [HL7_CONTENT_TYPE, 'application/hl7-v2', 'application/hl7-v2+er7', 'text/plain', 'text/hl7'];

/**
 * The hospital sending this message, or why this request may not send one, as an HL7 decision (CONTRACT.md: AR,
 * ERR 204, 401 without a known key, 403 for a key that is not a hospital's, 429 (with `Retry-After`) from an address
 * throttled after too many failed authentications; AR, ERR 207, 503 when PostgreSQL cannot
 * check the key). Asked once the body is read: the ACK echoes the message's MSH.
 */
function sender(req: Request): { odsCode: string } | { refused: Decision } {
  if (req.authFailure === 'unavailable') return { refused: UNAVAILABLE };
  if (req.authFailure === 'throttled') {
    return { refused: notAuthenticated(429, 'Too many failed authentications from this address: retry later') };
  }
  const p = req.principal;
  if (!p) {
    return { refused: notAuthenticated(401, 'A valid hospital API key is required: Authorization: Bearer <key>') };
  }
  if (p.kind !== 'hospital') return { refused: notAuthenticated(403, 'Only a hospital key may send messages') };
  return { odsCode: p.odsCode };
}

export function createHl7Routes(deps: AppDeps): Router {
  const r = Router();
  r.post(
    '/hl7',
    (req, _res, next) => {
      const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== '' && !ACCEPTED_TYPES.includes(type)) {
        throw new HttpProblem(415, 'Unsupported media type', `Send HL7 v2 as ${HL7_CONTENT_TYPE} or text/plain`);
      }
      next();
    },
    express.raw({ type: () => true, limit: '1mb' }),
    async (req, res) => {
      const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const from = sender(req);
      if ('refused' in from) {
        const answer = answerHl7(headerToAnswer(body), from.refused, { now: new Date() });
        if (req.authFailure === 'throttled') res.set('Retry-After', String(req.retryAfterS ?? 60));
        res.status(answer.httpStatus).type(HL7_CONTENT_TYPE).send(answer.ack);
        return;
      }
      const result = await deps.ingest.ingestHl7(body, { transport: 'http', keyHospitalOds: from.odsCode });
      if (result.httpStatus === 200) deps.onStored?.();
      res.status(result.httpStatus).type(HL7_CONTENT_TYPE).send(result.ack);
    },
  );
  return r;
}
