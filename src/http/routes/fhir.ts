/**
 * `POST /v1/fhir/Encounter` (CONTRACT.md "FHIR R4"): every answer, failures included, is a FHIR R4
 * OperationOutcome (`application/fhir+json`), as FHIR clients expect: 401 no or unknown key, 429 an address throttled
 * after too many failed authentications, 403 not a hospital
 * key, 415 not JSON, 413 over 1 MiB, then whatever ingest decides (a body that does not parse is 400 and stored).
 *
 * Mounted after the shared `/v1` authentication (which never answers) and before the JSON parser and
 * `requireCaller`: it answers a missing key and every other failure itself, and reads its body on its own.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { operationOutcome, type IssueType } from '../../fhir/outcome.js';
import type { AppDeps } from '../app.js';

export const FHIR_CONTENT_TYPE = 'application/fhir+json';

/** JSON is UTF-8 (RFC 8259); a BOM is dropped, bytes that are not UTF-8 become U+FFFD (and then fail as JSON). */
const utf8 = new TextDecoder('utf-8');

/** The body limit of every `/v1` route (CONTRACT.md). */
const BODY_LIMIT = '1mb';

class FhirProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: IssueType,
    message: string,
  ) {
    super(message);
  }
}

function send(res: Response, status: number, outcome: OperationOutcome): void {
  res.status(status).type(FHIR_CONTENT_TYPE).send(JSON.stringify(outcome));
}

export function createFhirRoutes(deps: AppDeps): Router {
  const r = Router();
  r.post(
    '/fhir/Encounter',
    (req: Request, res: Response, next: NextFunction) => {
      // the caller, as `authenticate` (src/http/auth.ts) resolved it for every /v1 route
      if (req.authFailure === 'throttled') {
        // too many failed authentications from this address (CONTRACT.md "Security defaults")
        res.set('Retry-After', String(req.retryAfterS ?? 60));
        throw new FhirProblem(429, 'throttled', 'Too many failed authentications from this address: retry later');
      }
      if (req.authFailure === 'unavailable') {
        // PostgreSQL is down: the key cannot be checked and nothing could be stored (CONTRACT.md: 503)
        throw new FhirProblem(503, 'transient', 'The service cannot store messages right now: retry later');
      }
      const p = req.principal;
      if (!p) throw new FhirProblem(401, 'login', 'A valid hospital API key is required: Authorization: Bearer <key>');
      if (p.kind !== 'hospital') throw new FhirProblem(403, 'forbidden', 'Only a hospital key may send encounters');
      if (!req.is(FHIR_CONTENT_TYPE) && !req.is('application/json')) {
        throw new FhirProblem(415, 'not-supported', `Send a FHIR R4 Encounter as ${FHIR_CONTENT_TYPE}`);
      }
      next();
    },
    express.raw({ limit: BODY_LIMIT, type: () => true }),
    async (req: Request, res: Response) => {
      const p = req.principal;
      if (p?.kind !== 'hospital') throw new FhirProblem(403, 'forbidden', 'Only a hospital key may send encounters');
      const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const result = await deps.ingest.ingestFhirText(utf8.decode(body), { keyHospitalOds: p.odsCode });
      if (result.httpStatus === 200) deps.onStored?.();
      send(res, result.httpStatus, result.outcome);
    },
  );
  r.use('/fhir', (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    if (err instanceof FhirProblem) {
      return send(res, err.status, operationOutcome([{ severity: 'error', code: err.code, diagnostics: err.message }]));
    }
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large') {
      return send(
        res,
        413,
        operationOutcome([{ severity: 'error', code: 'too-costly', diagnostics: 'The body is larger than 1 MiB' }]),
      );
    }
    if (e.type === 'entity.parse.failed') {
      return send(
        res,
        400,
        operationOutcome([{ severity: 'error', code: 'structure', diagnostics: 'The body is not valid JSON' }]),
      );
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      return send(
        res,
        e.status,
        operationOutcome([{ severity: 'error', code: 'invalid', diagnostics: 'The request could not be read' }]),
      );
    }
    deps.logger.error({ errorClass: (err as Error)?.constructor?.name }, 'unhandled error in FHIR route');
    return send(
      res,
      500,
      operationOutcome([
        { severity: 'error', code: 'exception', diagnostics: 'Something went wrong; it has been logged' },
      ]),
    );
  });
  return r;
}
