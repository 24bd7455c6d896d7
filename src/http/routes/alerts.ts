/** Alerts and admissions as providers and operators read them (CONTRACT.md "Alerts and acknowledgement"). */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { acknowledgeAlert } from '../../acknowledgement/acknowledge-alert.js';
import * as admissions from '../../db/admissions.js';
import * as alerts from '../../db/alerts.js';
import * as audit from '../../db/audit.js';
import * as messages from '../../db/messages.js';
import type { AppDeps } from '../app.js';
import { principal, type Principal } from '../auth.js';
import { HttpProblem, notFound, RefusedAccess } from '../problem.js';
import { parseBody } from './registry.js';
import { oneOf, pagingQuery, parseQuery, text } from '../query.js';
import type { AdmissionStatus } from '../../domain/admission-event.js';
import { allowedOutcomes, defaultOutcome, eventWords, meaningOfAlert } from '../../domain/alert-text.js';
import { withdrawnReasonCode, withdrawnReasonText } from '../../domain/clinical.js';
import { signalStayResend, stayRefOf, staySettingsOf } from '../../temporal/stays.js';

const uuid = z.string().uuid();
const STATUSES = ['open', 'acknowledged', 'unacknowledged', 'withdrawn', 'all'] as const;
/** CONTRACT.md's admission statuses (src/domain/admission-event.ts `AdmissionStatus`). */
const ADMISSION_STATUSES = [
  'received',
  'no-care-package',
  'unmatched',
  'alerting',
  'acknowledged',
  'unacknowledged',
  'discharged',
  'closed',
  'cancelled',
] as const satisfies readonly AdmissionStatus[];

function alertView(r: alerts.AlertDetails) {
  const meaning = meaningOfAlert(r);
  const withdrawn = withdrawnReasonCode(r.withdrawnReason);
  return {
    id: r.id,
    kind: r.kind,
    type: r.kind,
    status: r.status,
    admissionId: r.admissionId,
    provider: { id: r.providerId, odsCode: r.providerOds, name: r.providerName },
    hospital: { odsCode: r.hospitalOds, name: r.hospitalName ?? r.hospitalOds },
    client: r.clientId ? { id: r.clientId, nhsNumber: r.nhsNumber, reference: r.reference } : null,
    location: r.location ?? null,
    escalationStep: r.escalationStep,
    occurredAt: r.occurredAt.toISOString(),
    createdAt: r.createdAt.toISOString(),
    acknowledgedAt: r.acknowledgedAt?.toISOString() ?? null,
    acknowledgedBy: r.acknowledgedBy,
    outcome: r.outcome,
    /** "Your client was …": the words SMS and email carry (CONTRACT.md "Words") */
    event: eventWords(r.kind, meaning),
    defaultOutcome: defaultOutcome(r.kind, meaning),
    allowedOutcomes: allowedOutcomes(r.kind, meaning),
    ...(r.kind === 'cancellation' && meaning.cancels ? { cancels: meaning.cancels } : {}),
    ...(r.discharge
      ? {
          discharge: {
            ...stripNulls(r.discharge),
            destinationCategory: meaning.destinationCategory ?? 'unknown',
          },
        }
      : {}),
    ...(withdrawn ? { withdrawnReason: withdrawnReasonText(withdrawn), withdrawnReasonCode: withdrawn } : {}),
  };
}

function stripNulls<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}

/** Who may see alerts: the operator all, a provider its own; a hospital key none. */
function scope(p: Principal): alerts.AlertScope {
  if (p.kind === 'admin') return {};
  if (p.kind === 'provider') return { providerId: p.providerId };
  throw new HttpProblem(403, 'Forbidden', 'A hospital key cannot read alerts');
}

/**
 * Why a provider does not see an object: it is another provider's (404, audited as `access.refused`), or it does not
 * exist (plain 404). `exists` is asked only on this path, so the usual read costs nothing more.
 */
async function refusedOrNotFound(
  p: Principal,
  entityType: string,
  id: string,
  exists: () => Promise<unknown>,
): Promise<HttpProblem> {
  if (p.kind === 'provider' && (await exists())) return new RefusedAccess(`provider:${p.odsCode}`, entityType, id);
  return notFound(entityType);
}

/** 409 for a resend of an alert nobody needs chasing about: acknowledged, or withdrawn (with why). */
function notAwaiting(row: Pick<alerts.AlertDetails, 'status' | 'withdrawnReason'>): HttpProblem {
  if (row.status === 'acknowledged') {
    return new HttpProblem(409, 'Alert acknowledged', 'The alert is acknowledged: there is nothing to resend', {
      alertStatus: 'acknowledged',
    });
  }
  const code = withdrawnReasonCode(row.withdrawnReason);
  return new HttpProblem(
    409,
    'Alert withdrawn',
    `The alert was withdrawn${code ? ` (${withdrawnReasonText(code)})` : ''}: it no longer applies and is not resent`,
    { alertStatus: row.status, ...(code ? { withdrawnReasonCode: code } : {}) },
  );
}

const ackBody = z
  .object({
    by: z.string().trim().min(1, 'must say who acknowledges').max(200),
    outcome: z.enum(['visits-paused', 'visits-resumed', 'care-ended', 'not-our-client', 'noted']).optional(),
  })
  .strict();

export function createAlertRoutes(deps: AppDeps): Router {
  const { db } = deps;
  const r = Router();

  async function findAlert(req: Request): Promise<alerts.AlertDetails> {
    const id = String(req.params.alertId);
    const readable = scope(principal(req));
    if (!uuid.safeParse(id).success) throw notFound('alert');
    const row = await alerts.find(db, id, readable);
    if (!row) throw await refusedOrNotFound(principal(req), 'alert', id, () => alerts.find(db, id, {}));
    return row;
  }

  r.get('/alerts', async (req, res) => {
    const readable = scope(principal(req));
    const { status, limit, offset } = parseQuery(req, {
      status: oneOf('status', STATUSES).default('all'),
      ...pagingQuery,
    });
    const rows = await alerts.list(db, readable, { status, limit, offset });
    res.json({ items: rows.map(alertView), limit, offset });
  });

  r.get('/alerts/:alertId', async (req, res) => {
    const row = await findAlert(req);
    res.json({ ...alertView(row), deliveries: await alerts.deliveriesOf(db, row.id) });
  });

  r.post('/alerts/:alertId/acknowledge', async (req, res) => {
    const row = await findAlert(req);
    const body = parseBody(ackBody, req.body);
    const allowed = allowedOutcomes(row.kind, meaningOfAlert(row));
    if (body.outcome !== undefined && !allowed.includes(body.outcome) && row.status !== 'acknowledged') {
      throw new HttpProblem(
        422,
        'Outcome not allowed',
        `outcome ${body.outcome} is not allowed for this ${row.kind} alert: one of ${allowed.join(', ')}`,
      );
    }
    const p = principal(req);
    const result = await acknowledgeAlert(deps, {
      alertId: row.id,
      by: body.by,
      outcome: body.outcome,
      actor: p.kind === 'admin' ? 'operator' : `provider:${p.kind === 'provider' ? p.odsCode : ''}`,
    });
    if (!result) throw notFound('alert');
    res.status(200).json(result);
  });

  /**
   * `POST /v1/alerts/{id}/resend` (operator, or the alert's provider) → 202: an open or unacknowledged alert's ladder
   * starts again from step 1 with new deliveries and new links (an informational alert, `transfer` or
   * `cancellation`, is sent once more to whoever it reached). An acknowledged or withdrawn alert → 409: there is
   * nothing to chase. Answered once the stay's workflow has the request (a run is started when none is running).
   */
  r.post('/alerts/:alertId/resend', async (req, res) => {
    const row = await findAlert(req);
    const counted = await alerts.countResend(db, row.id);
    if (!counted) throw notAwaiting((await alerts.find(db, row.id, {})) ?? row);
    const adm = await admissions.stayRef(db, row.admissionId);
    if (!adm) throw notFound('alert');
    try {
      await signalStayResend(deps.temporal, staySettingsOf(deps.config), stayRefOf(adm), {
        alertId: row.id,
        resend: counted.resendCount,
      });
    } catch (err) {
      deps.logger.error({ alertId: row.id, err: (err as Error).message }, 'could not signal the stay to resend');
      throw new HttpProblem(503, 'Service unavailable', 'The alert could not be resent now: try again');
    }
    const p = principal(req);
    await audit.record(db, {
      actor: p.kind === 'admin' ? 'operator' : `provider:${p.kind === 'provider' ? p.odsCode : ''}`,
      action: 'alert.resent',
      entityType: 'alert',
      entityId: row.id,
      details: { resend: counted.resendCount },
    });
    res.status(202).json({
      id: row.id,
      kind: row.kind,
      resendCount: counted.resendCount,
      lastResentAt: counted.lastResentAt.toISOString(),
    });
  });

  r.get('/admissions/:admissionId', async (req, res) => {
    const id = String(req.params.admissionId);
    const p = principal(req);
    if (p.kind === 'hospital') throw new HttpProblem(403, 'Forbidden', 'A hospital key cannot read admissions');
    if (!uuid.safeParse(id).success) throw notFound('admission');
    const adm = await admissions.get(db, id);
    if (!adm) throw notFound('admission');
    const ofStay = await alerts.listOfStay(db, id, scope(p));
    if (p.kind === 'provider' && ofStay.length === 0) throw new RefusedAccess(`provider:${p.odsCode}`, 'admission', id);
    const events = await messages.eventsOfStay(db, id);
    res.json({
      id: adm.id,
      status: adm.status,
      ...(adm.statusReason && p.kind === 'admin' ? { statusReason: adm.statusReason } : {}),
      ...(adm.statusReasonCode && p.kind === 'admin' ? { statusReasonCode: adm.statusReasonCode } : {}),
      hospital: { odsCode: adm.hospitalOds, name: adm.hospitalName ?? adm.hospitalOds },
      visitNumber: adm.visitNumber,
      admittedAt: adm.admittedAt?.toISOString() ?? null,
      dischargedAt: adm.dischargedAt?.toISOString() ?? null,
      location: adm.location ?? null,
      expectedDischargeDate: adm.expectedDischargeDate,
      onLeave: adm.onLeave,
      workflowId: adm.workflowId,
      events: events.map((e) => ({
        type: e.trigger,
        kind: e.kind,
        at: e.at?.toISOString() ?? null,
        messageControlId: e.messageControlId,
      })),
      alerts: ofStay.map(alertView),
    });
  });

  r.get('/admissions', async (req, res) => {
    const p = principal(req);
    if (p.kind !== 'admin') throw new HttpProblem(403, 'Forbidden', 'Only the operator may list admissions');
    const q = parseQuery(req, {
      status: oneOf('status', ADMISSION_STATUSES).optional(),
      hospital: text('hospital').optional(),
      visitNumber: text('visitNumber').optional(),
      ...pagingQuery,
    });
    const rows = await admissions.list(db, {
      status: q.status,
      hospitalOds: q.hospital,
      visitNumber: q.visitNumber,
      limit: q.limit,
      offset: q.offset,
    });
    res.json({ items: rows, limit: q.limit, offset: q.offset });
  });

  return r;
}
