/** `POST /v1/fhir/Encounter` (CONTRACT.md "FHIR R4"): answered with an OperationOutcome. */
import { Router } from 'express';
import { principal } from '../auth.js';
import type { AppDeps } from '../app.js';
import { HttpProblem } from '../problem.js';

export function createFhirRoutes(deps: AppDeps): Router {
  const r = Router();
  r.post('/fhir/Encounter', async (req, res) => {
    const p = principal(req);
    if (p.kind !== 'hospital') throw new HttpProblem(403, 'Forbidden', 'Only a hospital key may send encounters');
    if (!req.is('application/fhir+json') && !req.is('application/json')) {
      throw new HttpProblem(415, 'Unsupported media type', 'Send a FHIR R4 Encounter as application/fhir+json');
    }
    const result = await deps.ingest.ingestFhir(req.body, { keyHospitalOds: p.odsCode });
    if (result.httpStatus === 200) deps.onStored?.();
    res.status(result.httpStatus).type('application/fhir+json').send(JSON.stringify(result.outcome));
  });
  return r;
}
