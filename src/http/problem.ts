/** Errors as `application/problem+json` (RFC 9457). */
import type { Response } from 'express';

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

const TYPES: Record<number, string> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  422: 'unprocessable-content',
  429: 'too-many-requests',
  500: 'internal-error',
  503: 'service-unavailable',
};

export function sendProblem(res: Response, p: HttpProblem): void {
  res
    .status(p.status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: `https://admission-alerts.example/problems/${TYPES[p.status] ?? 'error'}`,
        title: p.title,
        status: p.status,
        detail: p.detail,
        ...p.extra,
      }),
    );
}

export const notFound = (what: string) => new HttpProblem(404, 'Not found', `${what} not found`);
export const badRequest = (detail: string, extra?: Record<string, unknown>) =>
  new HttpProblem(400, 'Bad request', detail, extra);

/**
 * 404 for a provider key asking for another provider's object (CONTRACT.md "Authentication": existence is not
 * revealed), which the app's error handler also writes to the audit trail (`access.refused`) before answering.
 * The answer is the same 404 as for an object that does not exist.
 */
export class RefusedAccess extends HttpProblem {
  constructor(
    readonly actor: string,
    readonly entityType: string,
    readonly entityId: string,
  ) {
    super(404, 'Not found', `${entityType} not found`);
  }
}
