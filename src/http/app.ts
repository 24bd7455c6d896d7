/**
 * The HTTP API (CONTRACT.md): createApp(deps) builds the Express app; nothing here reads process.env.
 */
import type { Client } from '@temporalio/client';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { Ingest } from '../ingest/ingest.js';
import { authenticate, createKeyResolver, requireCaller } from './auth.js';
import * as audit from '../db/audit.js';
import { HttpProblem, RefusedAccess, sendProblem } from './problem.js';
import { createAuditRoutes } from './routes/audit.js';
import { createAlertRoutes } from './routes/alerts.js';
import { createHealthRoutes, type HealthCheck } from './routes/health.js';
import { createHl7Routes } from './routes/hl7.js';
import { createFhirRoutes } from './routes/fhir.js';
import { createMessageRoutes } from './routes/messages.js';
import { createHospitalSecurityRoutes } from './routes/hospitals-security.js';
import { createFeedRoutes } from './routes/feeds.js';
import { createReportRoutes } from './routes/reports.js';
import { createRegistryRoutes } from './routes/registry.js';
import { createReviewRoutes } from './routes/review.js';
import { staySettingsOf } from '../temporal/stays.js';
import { createAckLinkPages } from './routes/ack-links.js';
import { createUserRoutes } from './routes/users.js';
import { createPortal, type PortalOptions } from '../portal/app.js';

export interface AppDeps {
  db: Db;
  temporal: Client;
  config: Pick<Config, 'adminToken' | 'production' | 'allowLoopbackWebhooks' | 'publicBaseUrl' | 'ackTokenTtlSeconds'> &
    Partial<
      Pick<
        Config,
        'temporal' | 'admissionLingerSeconds' | 'reviewAlertSeconds' | 'maxStaySeconds' | 'workflowHistoryLimit'
      >
    >;
  logger: Logger;
  ingest: Ingest;
  health: HealthCheck;
  /** called after a message is stored, so the relay in this process wakes at once */
  onStored?: () => void;
  /** called after a hospital's MLLP allow-list or certificates changed, so this process's MLLP listener sees it */
  mllpSendersChanged?: () => void;
  /** secret for CSRF tokens on the acknowledgement pages */
  csrfSecret: string;
  /** the web portal's sessions and sign-in emails (`/portal`) */
  portal: PortalOptions;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.use(createHealthRoutes(deps.health));
  app.use('/a', createAckLinkPages(deps));
  app.use('/portal', createPortal({ ...deps, ...deps.portal }));
  // every /v1 route: one key check (one resolver, one cache); each protocol answers a failure in its own format
  app.use(
    '/v1',
    authenticate(createKeyResolver({ db: deps.db, adminToken: deps.config.adminToken }), deps.logger, deps.db),
  );
  app.use('/v1', createHl7Routes(deps)); // an AR ACK (401/403/429/503) once it has read the message it echoes
  app.use('/v1', createFhirRoutes(deps)); // an OperationOutcome (401/403/429/503, and 415/413 for its own body)
  app.use('/v1', requireCaller); // every other route: problem+json 401/429/503
  app.use('/v1', express.json({ limit: '1mb', type: ['application/json', 'application/*+json'] }));
  app.use('/v1', createMessageRoutes(deps));
  app.use('/v1', createRegistryRoutes(deps));
  app.use('/v1', createHospitalSecurityRoutes(deps));
  app.use('/v1', createFeedRoutes(deps));
  app.use('/v1', createReportRoutes(deps));
  app.use('/v1', createAlertRoutes(deps));
  app.use('/v1', createAuditRoutes(deps));
  app.use('/v1', createUserRoutes(deps));
  app.use(
    '/v1',
    createReviewRoutes({
      ...deps,
      stays: staySettingsOf(deps.config),
    }),
  );

  app.use((_req: Request, _res: Response, next: NextFunction) => {
    next(new HttpProblem(404, 'Not found', 'No such endpoint'));
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof RefusedAccess) {
      // another provider's object: the same 404 as for none, and a row in the audit trail
      return audit
        .record(deps.db, {
          actor: err.actor,
          action: 'access.refused',
          entityType: err.entityType,
          entityId: err.entityId,
          // the route's pattern, not the path: a path may carry an NHS number (/providers/:id/clients/:nhsNumber)
          details: {
            method: req.method,
            route: `${req.baseUrl}${String((req.route as { path?: unknown } | undefined)?.path ?? '')}`,
          },
        })
        .catch((e: unknown) => deps.logger.error({ err: (e as Error).message }, 'cannot audit a refused access'))
        .then(() => sendProblem(res, err));
    }
    if (err instanceof HttpProblem) return sendProblem(res, err);
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large') {
      return sendProblem(res, new HttpProblem(413, 'Payload too large', 'The body is larger than 1 MiB'));
    }
    if (e.type === 'entity.parse.failed') {
      return sendProblem(res, new HttpProblem(400, 'Bad request', 'The body is not valid JSON'));
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      return sendProblem(res, new HttpProblem(e.status, 'Bad request', e.message ?? 'Bad request'));
    }
    deps.logger.error({ err: e.message, path: req.path }, 'unhandled error');
    return sendProblem(res, new HttpProblem(500, 'Internal error', 'Something went wrong; it has been logged'));
  });
  return app;
}
