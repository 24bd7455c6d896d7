/**
 * The coordinator's alerts (CONTRACT.md "Web portal", coordinator): the provider's alerts that need someone, newest
 * first, refreshed without a reload; one alert with its timeline; acknowledging it with an outcome the clinical
 * rules allow (src/domain/alert-text.ts), through the same path as the API and the links.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { acknowledgeAlert } from '../../acknowledgement/acknowledge-alert.js';
import * as alerts from '../../db/alerts.js';
import * as messages from '../../db/messages.js';
import type { AckOutcome } from '../../domain/admission-event.js';
import { adviceWords, allowedOutcomes, defaultOutcome, meaningOfAlert } from '../../domain/alert-text.js';
import { withdrawnReasonCode, withdrawnReasonText } from '../../domain/clinical.js';
import { OUTCOMES, formatDateTime, kindHeading, kindSentence, outcomeLabel } from '../../http/pages/view.js';
import { PortalNotFound, type PortalDeps } from '../app.js';
import { portalUser, providerIdOf } from '../session.js';
import { portalViewEnvironment, render } from '../view.js';
import { clientName, formatDate, formatNhsNumber } from './format.js';

/** How often the open-alerts page asks for the list again (seconds). */
export const LIVE_REFRESH_SECONDS = 5;

const uuid = z.string().uuid();

/** A row of the open-alerts table. */
function row(a: alerts.AlertDetails) {
  return {
    id: a.id,
    heading: kindHeading(a.kind, meaningOfAlert(a)),
    unacknowledged: a.status === 'unacknowledged',
    client: clientName(a) ?? a.reference ?? 'Name not registered',
    dateOfBirth: a.dateOfBirth ? formatDate(a.dateOfBirth) : 'Not registered',
    hospital: a.hospitalName ?? a.hospitalOds,
    ward: a.location?.ward ?? 'Not known',
    step: a.escalationStep,
    since: a.createdAt.toISOString(),
  };
}

/** HTML of the open-alerts table (the page's and the live endpoint's), and how many alerts it holds. */
async function openAlertsTable(deps: PortalDeps, providerId: string): Promise<{ html: string; count: number }> {
  const rows = (await alerts.needingAction(deps.db, providerId)).map(row);
  const html = portalViewEnvironment().render('coordinator/alerts-table.njk', { rows });
  return { html, count: rows.length };
}

/** Plain words for a message trigger in the timeline (HL7 ADT event codes). */
const EVENT_WORDS: Record<string, string> = {
  A01: 'Admitted (A01)',
  A02: 'Moved ward (A02)',
  A03: 'Discharged (A03)',
  A04: 'Registered (A04)',
  A08: 'Details updated (A08)',
  A11: 'Admission cancelled (A11)',
  A12: 'Move cancelled (A12)',
  A13: 'Discharge cancelled (A13)',
};

const CHANNEL_WORDS: Record<string, string> = { sms: 'text message', email: 'email', webhook: 'webhook' };
const DELIVERY_STATUS_WORDS: Record<string, string> = {
  pending: 'sending',
  sent: 'sent',
  failed: 'not sent',
  rejected: 'refused',
  disabled: 'channel switched off',
  skipped: 'not sent',
};

export function createAlertPages(deps: PortalDeps): Router {
  const { db } = deps;
  const r = Router();

  /** The signed-in user's provider's alert of `:alertId`; another provider's, or none, is the 404 page. */
  async function alertOf(req: Request): Promise<alerts.AlertDetails> {
    const id = String(req.params['alertId']);
    if (!uuid.safeParse(id).success) throw new PortalNotFound();
    const alert = await alerts.find(db, id, { providerId: providerIdOf(req) });
    if (!alert) throw new PortalNotFound();
    return alert;
  }

  r.get('/alerts', async (req, res) => {
    const table = await openAlertsTable(deps, providerIdOf(req));
    render(res, 'coordinator/alerts.njk', {
      title: 'Alerts',
      table: table.html,
      count: table.count,
      refreshSeconds: LIVE_REFRESH_SECONDS,
      updatedAt: new Date().toISOString(),
    });
  });

  r.get('/alerts/:alertId', async (req, res) => {
    await alertPage(req, res, 200, await alertOf(req), {});
  });

  r.post('/alerts/:alertId/acknowledge', async (req, res) => {
    const alert = await alertOf(req);
    const user = portalUser(req);
    const offered = allowedOutcomes(alert.kind, meaningOfAlert(alert));
    const given = (req.body as Record<string, unknown> | undefined)?.['outcome'];
    if (alert.status !== 'acknowledged') {
      if (typeof given !== 'string' || !offered.includes(given as AckOutcome)) {
        return alertPage(req, res, 400, alert, { outcome: 'Select what you have done about this alert' });
      }
      await acknowledgeAlert(deps, {
        alertId: alert.id,
        by: user.name,
        outcome: given as AckOutcome,
        userId: user.id,
        actor: `user:${user.id}`,
      });
    }
    res.redirect(303, `/portal/alerts/${alert.id}?acknowledged=1`);
  });

  async function alertPage(
    req: Request,
    res: Response,
    status: number,
    alert: alerts.AlertDetails,
    fieldErrors: { outcome?: string },
  ): Promise<void> {
    const meaning = meaningOfAlert(alert);
    const [events, deliveries] = await Promise.all([
      messages.eventsOfStay(db, alert.admissionId),
      alerts.deliveriesWithContacts(db, alert.id),
    ]);
    const timeline: { at: Date; text: string }[] = [
      ...events
        .filter((e) => e.at !== null)
        .map((e) => ({ at: e.at!, text: EVENT_WORDS[e.trigger ?? ''] ?? `Hospital message (${e.trigger ?? '?'})` })),
      { at: alert.createdAt, text: `Alert raised: ${kindHeading(alert.kind, meaning).toLowerCase()}` },
      ...deliveries.map((d) => ({
        at: d.sentAt ?? d.createdAt,
        text: `Step ${d.step}: ${CHANNEL_WORDS[d.channel] ?? d.channel} to ${d.contactName ?? 'a removed contact'}${
          d.contactRole ? ` (${d.contactRole})` : ''
        }, ${DELIVERY_STATUS_WORDS[d.status] ?? d.status}`,
      })),
      ...(alert.acknowledgedAt
        ? [
            {
              at: alert.acknowledgedAt,
              text: `Acknowledged by ${alert.acknowledgedBy ?? 'someone'}${
                alert.outcome ? `: ${outcomeLabel(alert.outcome as AckOutcome)}` : ''
              }`,
            },
          ]
        : []),
    ].sort((a, b) => a.at.getTime() - b.at.getTime());
    const withdrawn = withdrawnReasonCode(alert.withdrawnReason);
    const offered = allowedOutcomes(alert.kind, meaning);
    const errors = fieldErrors.outcome ? [{ text: fieldErrors.outcome, href: '#outcome' }] : [];
    res.status(status);
    render(res, 'coordinator/alert.njk', {
      title: kindHeading(alert.kind, meaning),
      hasError: errors.length > 0,
      errors,
      fieldErrors,
      justAcknowledged: req.query['acknowledged'] === '1' && alert.status === 'acknowledged',
      heading: kindHeading(alert.kind, meaning),
      sentence: kindSentence(alert.kind, alert.providerName, alert.hospitalName ?? alert.hospitalOds, meaning),
      advice: adviceWords(alert.kind, meaning),
      details: [
        ['Client', clientName(alert) ?? 'Name not registered'],
        ['Date of birth', alert.dateOfBirth ? formatDate(alert.dateOfBirth) : 'Not registered'],
        ...(alert.nhsNumber ? [['NHS number', formatNhsNumber(alert.nhsNumber)]] : []),
        ...(alert.reference ? [['Your reference', alert.reference]] : []),
        ['Hospital', alert.hospitalName ?? alert.hospitalOds],
        ['Ward', alert.location?.ward ?? 'Not known'],
        ...(alert.location?.bed ? [['Bed', alert.location.bed]] : []),
        ['Escalation step', String(alert.escalationStep)],
        ['Waiting since', formatDateTime(alert.createdAt.toISOString())],
      ].map(([key, value]) => ({ key: { text: key }, value: { text: value } })),
      status: alert.status,
      withdrawnReason: withdrawn ? withdrawnReasonText(withdrawn) : undefined,
      acknowledged:
        alert.status === 'acknowledged'
          ? {
              by: alert.acknowledgedBy,
              at: alert.acknowledgedAt?.toISOString(),
              outcome: alert.outcome ? outcomeLabel(alert.outcome as AckOutcome) : undefined,
            }
          : undefined,
      timeline: timeline.map((t) => ({ at: t.at.toISOString(), text: t.text })),
      outcomeItems: OUTCOMES.filter((o) => offered.includes(o.value)).map((o) => ({
        value: o.value,
        text: o.label,
        hint: { text: o.hint },
      })),
      defaultOutcome: defaultOutcome(alert.kind, meaning),
      formAction: `/portal/alerts/${alert.id}/acknowledge`,
    });
  }

  return r;
}

/**
 * `GET /portal/alerts/live`: the open-alerts table as an HTML fragment, for the page's script to swap in. It does
 * not count as activity (a page left open still ends its session after 30 minutes idle); without a signed-in
 * coordinator or admin it answers 401 and the script says the list stopped updating.
 */
export function createLiveAlerts(deps: PortalDeps): Router {
  const r = Router();
  r.get('/alerts/live', async (req, res) => {
    // a poll must not push the idle deadline back: the session keeps the expiry it was loaded with
    if (req.session) req.session.touch = () => req.session;
    const user = req.portalUser;
    res.set('Cache-Control', 'no-store');
    if (!user || (user.role !== 'coordinator' && user.role !== 'admin') || !user.providerId) {
      return res.status(401).type('text').send('Sign in again');
    }
    const table = await openAlertsTable(deps, user.providerId);
    res.set('X-Open-Alerts', String(table.count)).type('html').send(table.html);
  });
  return r;
}
