/** `POST /v1/hl7`: one HL7 v2 message in, one HL7 ACK out (CONTRACT.md). */
import express, { Router } from 'express';
import { buildAck } from '../../hl7/ack.js';
import { readHeaderLenient } from '../../hl7/adt.js';
import { decodeHl7Bytes } from '../../hl7/message.js';
import { bearer, resolvePrincipal, type Principal } from '../auth.js';
import type { AppDeps } from '../app.js';
import { HttpProblem } from '../problem.js';
import { randomUUID } from 'node:crypto';

export const HL7_CONTENT_TYPE = 'x-application/hl7-v2+er7';
const ACCEPTED_TYPES = [HL7_CONTENT_TYPE, 'application/hl7-v2', 'application/hl7-v2+er7', 'text/plain', 'text/hl7'];

/**
 * A hospital key, once found, is trusted this long without asking PostgreSQL again: one query less per message.
 * (There is no API to revoke a key; one revoked in the database stops working within this time.)
 */
const HOSPITAL_KEY_CACHE_MS = 10_000;

export function createHl7Routes(deps: AppDeps): Router {
  const r = Router();
  const hospitalKeys = new Map<string, { principal: Principal; until: number }>();
  const principalFor = async (key: string | undefined): Promise<Principal | undefined> => {
    const hit = key === undefined ? undefined : hospitalKeys.get(key);
    if (hit && hit.until > Date.now()) return hit.principal;
    const principal = await resolvePrincipal(deps.sql, deps.config.adminToken, key);
    if (key !== undefined && principal?.kind === 'hospital') {
      if (hospitalKeys.size >= 1000) hospitalKeys.clear();
      hospitalKeys.set(key, { principal, until: Date.now() + HOSPITAL_KEY_CACHE_MS });
    }
    return principal;
  };
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
      let principal: Principal | undefined;
      try {
        principal = await principalFor(bearer(req));
      } catch (err) {
        // PostgreSQL is down: the key cannot be checked, so the message cannot be stored (CONTRACT.md: AR, 503)
        deps.logger.error({ err: (err as Error).message, transport: 'http' }, 'cannot check the API key: answered AR, retry later');
        const header = safeHeader(body);
        res
          .status(503)
          .type(HL7_CONTENT_TYPE)
          .send(
            buildAck({
              inbound: header,
              code: header.acceptAckType ? 'CR' : 'AR',
              errors: [{ hl7Code: '207', message: 'The service cannot store messages right now: retry later' }],
              controlId: randomUUID(),
              now: new Date(),
            }),
          );
        return;
      }
      if (!principal || principal.kind !== 'hospital') {
        const status = principal ? 403 : 401;
        const message = principal
          ? 'Only a hospital key may send messages'
          : 'A valid hospital API key is required: Authorization: Bearer <key>';
        const header = safeHeader(body);
        res
          .status(status)
          .type(HL7_CONTENT_TYPE)
          .send(
            buildAck({
              inbound: header,
              code: header.acceptAckType ? 'CR' : 'AR',
              errors: [{ hl7Code: '204', message }],
              controlId: randomUUID(),
              now: new Date(),
            }),
          );
        return;
      }
      const result = await deps.ingest.ingestHl7(body, { transport: 'http', keyHospitalOds: principal.odsCode });
      if (result.httpStatus === 200) deps.onStored?.();
      res.status(result.httpStatus).type(HL7_CONTENT_TYPE).send(result.ack);
    },
  );
  return r;
}

function safeHeader(body: Buffer) {
  try {
    return readHeaderLenient(decodeHl7Bytes(body));
  } catch {
    return {};
  }
}
