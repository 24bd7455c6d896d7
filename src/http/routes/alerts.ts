/** Alerts and admissions as providers and operators read them (CONTRACT.md "Alerts and acknowledgement"). */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { acknowledge } from '../../alerts/acknowledge.js';
import type { Sql } from '../../db/client.js';
import type { AppDeps } from '../app.js';
import { principal, type Principal } from '../auth.js';
import { HttpProblem, notFound } from '../problem.js';
import { parseBody } from './registry.js';
import type { AlertKind } from '../../domain/admission-event.js';
import { allowedOutcomes, defaultOutcome, eventWords, meaningOfAlert } from '../../domain/alert-text.js';
import {
  withdrawnReasonCode,
  withdrawnReasonText,
  type CancelsCode,
  type DestinationCategory,
} from '../../domain/clinical.js';

const uuid = z.string().uuid();
const STATUSES = ['open', 'acknowledged', 'unacknowledged', 'withdrawn', 'all'] as const;

interface AlertRow {
  id: string;
  kind: AlertKind;
  status: string;
  admission_id: string;
  provider_id: string;
  provider_ods: string;
  provider_name: string;
  hospital_ods: string;
  hospital_name: string | null;
  escalation_step: number;
  occurred_at: Date;
  created_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  outcome: string | null;
  withdrawn_reason: string | null;
  alert_key: string;
  cancels: CancelsCode | null;
  destination_category: DestinationCategory | null;
  discharge: { at?: string; method?: string; destination?: string } | null;
  client_id: string | null;
  nhs_number: string | null;
  reference: string | null;
  location: unknown;
}

function alertQuery(sql: Sql) {
  return sql`
    select a.id, a.kind, a.status, a.admission_id, a.provider_id, p.ods_code as provider_ods, p.name as provider_name,
      ad.hospital_ods, h.name as hospital_name, a.escalation_step, a.occurred_at, a.created_at, a.acknowledged_at,
      a.acknowledged_by, a.outcome, a.withdrawn_reason, a.alert_key, a.cancels, a.destination_category,
      case when a.kind in ('discharge', 'death') then jsonb_build_object(
        'at', coalesce(m.parsed->>'dischargedAt', to_char(ad.discharged_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
        'method', m.parsed->'discharge'->>'method', 'destination', m.parsed->'discharge'->>'destination') end as discharge,
      a.client_id, c.nhs_number, c.reference, ad.location
    from alerts a
    left join inbound_messages m on m.id::text = a.message_id
    join admissions ad on ad.id = a.admission_id
    join providers p on p.id = a.provider_id
    left join hospitals h on h.ods_code = ad.hospital_ods
    left join clients c on c.id = a.client_id`;
}

function alertView(r: AlertRow) {
  const meaning = meaningOfAlert(r);
  const withdrawn = withdrawnReasonCode(r.withdrawn_reason);
  return {
    id: r.id,
    kind: r.kind,
    type: r.kind,
    status: r.status,
    admissionId: r.admission_id,
    provider: { id: r.provider_id, odsCode: r.provider_ods, name: r.provider_name },
    hospital: { odsCode: r.hospital_ods, name: r.hospital_name ?? r.hospital_ods },
    client: r.client_id ? { id: r.client_id, nhsNumber: r.nhs_number, reference: r.reference } : null,
    location: r.location ?? null,
    escalationStep: r.escalation_step,
    occurredAt: r.occurred_at.toISOString(),
    createdAt: r.created_at.toISOString(),
    acknowledgedAt: r.acknowledged_at?.toISOString() ?? null,
    acknowledgedBy: r.acknowledged_by,
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
function scope(sql: Sql, p: Principal) {
  if (p.kind === 'admin') return sql`true`;
  if (p.kind === 'provider') return sql`a.provider_id = ${p.providerId}`;
  throw new HttpProblem(403, 'Forbidden', 'A hospital key cannot read alerts');
}

const ackBody = z
  .object({
    by: z.string().trim().min(1, 'must say who acknowledges').max(200),
    outcome: z.enum(['visits-paused', 'visits-resumed', 'care-ended', 'not-our-client', 'noted']).optional(),
  })
  .strict();

export function createAlertRoutes(deps: AppDeps): Router {
  const { sql } = deps;
  const r = Router();

  async function findAlert(req: Request): Promise<AlertRow> {
    const id = String(req.params.alertId);
    const where = scope(sql, principal(req));
    if (!uuid.safeParse(id).success) throw notFound('alert');
    const [row] = await sql<AlertRow[]>`${alertQuery(sql)} where a.id = ${id} and ${where}`;
    if (!row) throw notFound('alert');
    return row;
  }

  r.get('/alerts', async (req, res) => {
    const where = scope(sql, principal(req));
    const status = String(req.query.status ?? 'all');
    if (!(STATUSES as readonly string[]).includes(status)) {
      throw new HttpProblem(400, 'Invalid request', `status must be one of ${STATUSES.join(', ')}`);
    }
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 100) || 100));
    const offset = Math.max(0, Number(req.query.offset ?? 0) || 0);
    const rows = await sql<AlertRow[]>`${alertQuery(sql)}
      where ${where} and ${status === 'all' ? sql`true` : sql`a.status = ${status}`}
      order by a.created_at desc, a.id limit ${limit} offset ${offset}`;
    res.json({ items: rows.map(alertView), limit, offset });
  });

  r.get('/alerts/:alertId', async (req, res) => {
    const row = await findAlert(req);
    const deliveries = await sql`
      select id, step, contact_id as "contactId", channel, status, attempts, detail, created_at as "createdAt",
        sent_at as "sentAt"
      from deliveries where alert_id = ${row.id} order by step, created_at`;
    res.json({ ...alertView(row), deliveries });
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
    const result = await acknowledge(deps, {
      alertId: row.id,
      by: body.by,
      outcome: body.outcome,
      actor: p.kind === 'admin' ? 'operator' : `provider:${p.kind === 'provider' ? p.odsCode : ''}`,
    });
    if (!result) throw notFound('alert');
    res.status(200).json(result);
  });

  r.get('/admissions/:admissionId', async (req, res) => {
    const id = String(req.params.admissionId);
    const p = principal(req);
    if (p.kind === 'hospital') throw new HttpProblem(403, 'Forbidden', 'A hospital key cannot read admissions');
    if (!uuid.safeParse(id).success) throw notFound('admission');
    const [adm] = await sql<
      {
        id: string;
        status: string;
        status_reason: string | null;
        status_reason_code: string | null;
        hospital_ods: string;
        hospital_name: string | null;
        visit_number: string;
        admitted_at: Date | null;
        discharged_at: Date | null;
        location: unknown;
        expected_discharge_date: string | null;
        on_leave: boolean;
        workflow_id: string;
      }[]
    >`
      select ad.id, ad.status, ad.status_reason, ad.status_reason_code, ad.hospital_ods, h.name as hospital_name, ad.visit_number, ad.admitted_at,
        ad.discharged_at, ad.location, ad.expected_discharge_date::text as expected_discharge_date, ad.on_leave, ad.workflow_id
      from admissions ad left join hospitals h on h.ods_code = ad.hospital_ods where ad.id = ${id}`;
    if (!adm) throw notFound('admission');
    const alerts = await sql<AlertRow[]>`${alertQuery(sql)} where a.admission_id = ${id} and ${scope(sql, p)}
      order by a.created_at, a.id`;
    if (p.kind === 'provider' && alerts.length === 0) throw notFound('admission');
    const events = await sql<{ trigger: string; at: Date | null; message_control_id: string; kind: string }[]>`
      select parsed->>'trigger' as trigger, event_at as at, message_control_id, parsed->>'kind' as kind
      from inbound_messages where admission_id = ${id} and status = 'accepted' and is_primary
      order by event_at, id`;
    res.json({
      id: adm.id,
      status: adm.status,
      ...(adm.status_reason && p.kind === 'admin' ? { statusReason: adm.status_reason } : {}),
      ...(adm.status_reason_code && p.kind === 'admin' ? { statusReasonCode: adm.status_reason_code } : {}),
      hospital: { odsCode: adm.hospital_ods, name: adm.hospital_name ?? adm.hospital_ods },
      visitNumber: adm.visit_number,
      admittedAt: adm.admitted_at?.toISOString() ?? null,
      dischargedAt: adm.discharged_at?.toISOString() ?? null,
      location: adm.location ?? null,
      expectedDischargeDate: adm.expected_discharge_date,
      onLeave: adm.on_leave,
      workflowId: adm.workflow_id,
      events: events.map((e) => ({
        type: e.trigger,
        kind: e.kind,
        at: e.at?.toISOString() ?? null,
        messageControlId: e.message_control_id,
      })),
      alerts: alerts.map(alertView),
    });
  });

  r.get('/admissions', async (req, res) => {
    const p = principal(req);
    if (p.kind !== 'admin') throw new HttpProblem(403, 'Forbidden', 'Only the operator may list admissions');
    const status = req.query.status ? String(req.query.status) : undefined;
    const hospital = req.query.hospital ? String(req.query.hospital) : undefined;
    const visit = req.query.visitNumber ? String(req.query.visitNumber) : undefined;
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 100) || 100));
    const rows = await sql`
      select id, status, status_reason as "statusReason", status_reason_code as "statusReasonCode", hospital_ods as "hospitalOds", visit_number as "visitNumber",
        admitted_at as "admittedAt", discharged_at as "dischargedAt", workflow_id as "workflowId", updated_at as "updatedAt"
      from admissions
      where ${status ? sql`status = ${status}` : sql`true`} and ${hospital ? sql`hospital_ods = ${hospital}` : sql`true`}
        and ${visit ? sql`visit_number = ${visit}` : sql`true`}
      order by updated_at desc limit ${limit}`;
    res.json({ items: rows });
  });

  return r;
}
