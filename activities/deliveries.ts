/**
 * One delivery: one alert, one step, one contact, one channel. The delivery id is the idempotency key
 * (alert + step + contact + channel), enforced by the primary key, carried as Notify's `reference` and in the
 * webhook event id, so a retried activity never tells a person twice.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../src/hash.js';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import * as alerts from '../src/db/alerts.js';
import type { Db } from '../src/db/client.js';
import { firstDeliverySeconds } from '../src/db/metrics.js';
import * as providers from '../src/db/providers.js';
import { eventWords, meaningOfAlert, type AlertMeaning } from '../src/domain/alert-text.js';
import type { ServiceMetrics } from '../src/metrics/metrics.js';
import {
  ChannelConfigurationError,
  type NotifyPersonalisation,
  type NotifySender,
  type SendOutcome,
  type WebhookBody,
  type WebhookSender,
} from '../src/notify/channel.js';
import type { AdmissionActivities, DeliverInput, DeliveryResult } from './types.js';

export interface DeliveryDeps {
  db: Db;
  notify: NotifySender;
  webhook: WebhookSender;
  publicBaseUrl: string;
  ackTokenTtlSeconds: number;
  logger: Logger;
  /** counts each delivery's outcome and each alert's time to its first accepted delivery (CONTRACT.md "Metrics") */
  metrics?: ServiceMetrics;
}

type AlertContext = alerts.DeliveryContext;

/**
 * The delivery id: alert + step + contact + channel, and `:r<n>` for the alert's n-th resend (so a resent ladder
 * makes new deliveries with new links, while the ids of deliveries made before resends existed stay the same).
 */
export const deliveryId = (
  alertId: string,
  step: number,
  contactId: string,
  channel: string,
  resend?: number,
): string => `${alertId}:${step}:${contactId}:${channel}${resend ? `:r${resend}` : ''}`;

/** The channel of a {@link deliveryId} (its last part). */
const channelOf = (id: string): string => id.slice(id.lastIndexOf(':') + 1);

/** Webhook event id: stable for every retry of one delivery, so receivers can de-duplicate. */
export const webhookEventId = (id: string): string => `evt_${sha256Hex(id).slice(0, 32)}`;

/** How often a running delivery tells Temporal it is alive (the workflow's heartbeat timeout is a few times this). */
export const DELIVERY_HEARTBEAT_MS = 1_000;

/**
 * Heartbeats while a delivery runs, so that when its worker dies Temporal retries it after the short heartbeat
 * timeout (workflows/admission.ts) instead of the whole start-to-close timeout. Outside an activity, or in a local
 * one: a no-op.
 */
function keepAlive(): () => void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return () => undefined;
  }
  // a local activity (a delivery's first attempt) has no heartbeat: its workflow task is its lease
  if (ctx.info.isLocal) return () => undefined;
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), DELIVERY_HEARTBEAT_MS);
  return () => clearInterval(timer);
}

export function createDeliveryActivities(
  deps: DeliveryDeps,
): Pick<AdmissionActivities, 'deliver' | 'recordDeliveryFailure'> {
  const { db, logger } = deps;

  async function finish(id: string, status: DeliveryResult, detail: string | null, providerRef?: string) {
    await alerts.finishDelivery(db, id, status, detail, providerRef);
    if (deps.metrics) await counted(deps.metrics, id, status);
  }

  /** Counts an outcome; an accepted delivery that is its alert's first also times the alert. Never fails the delivery. */
  async function counted(metrics: ServiceMetrics, id: string, status: DeliveryResult) {
    metrics.deliveryFinished(channelOf(id), status);
    if (status !== 'sent') return;
    try {
      const seconds = await firstDeliverySeconds(db, id);
      if (seconds !== undefined) metrics.alertFirstDelivered(seconds);
    } catch (err) {
      logger.warn({ deliveryId: id, err: (err as Error).message }, 'cannot time the first delivery of an alert');
    }
  }

  async function newAckUrl(alertId: string, id: string): Promise<string> {
    const token = randomBytes(24).toString('base64url'); // 192 bits
    await alerts.addLinkToken(db, {
      tokenHash: sha256Hex(token),
      alertId,
      deliveryId: id,
      ttlSeconds: deps.ackTokenTtlSeconds,
    });
    return `${deps.publicBaseUrl}/a/${token}`;
  }

  return {
    async deliver(input) {
      const stop = keepAlive();
      try {
        return await deliverOnce(input);
      } finally {
        stop();
      }
    },

    async recordDeliveryFailure({ alertId, step, contactId, channel, resend, reason }) {
      const id = deliveryId(alertId, step, contactId, channel, resend);
      await alerts.failPendingDelivery(db, id, reason);
      deps.metrics?.deliveryFinished(channel, 'failed');
    },
  };

  async function deliverOnce({ alertId, step, contactId, channel, resend }: DeliverInput): Promise<DeliveryResult> {
    const id = deliveryId(alertId, step, contactId, channel, resend);
    const d = await alerts.startDelivery(db, { id, alertId, step, contactId, channel });
    if (d.status !== 'pending') return d.status as DeliveryResult;

    const alert = await alerts.deliveryContext(db, alertId);
    if (!alert) throw ApplicationFailure.nonRetryable(`alert ${alertId} not found`, 'NotFound');
    if (alert.status === 'acknowledged' || alert.status === 'withdrawn') {
      await finish(id, 'skipped', `alert already ${alert.status}`);
      return 'skipped';
    }
    await alerts.reachStep(db, alertId, step);

    const contact = await providers.getContact(db, contactId);
    if (!contact || contact.deletedAt) {
      await finish(id, 'skipped', 'contact no longer exists');
      return 'skipped';
    }

    let outcome: SendOutcome;
    try {
      if (channel === 'webhook') {
        if (!contact.webhookUrl || !contact.webhookSecret) {
          await finish(id, 'skipped', 'contact has no webhook URL');
          return 'skipped';
        }
        const body = webhookBody(alert, step, webhookEventId(id), await newAckUrl(alertId, id));
        outcome = await deps.webhook.send(contact.webhookUrl, contact.webhookSecret, body);
      } else {
        const address = channel === 'sms' ? contact.phone : contact.email;
        if (!address) {
          await finish(id, 'skipped', `contact has no ${channel === 'sms' ? 'phone number' : 'email address'}`);
          return 'skipped';
        }
        if (!deps.notify.enabled) {
          await finish(id, 'skipped', 'NOTIFY_API_KEY is not set: SMS and email are switched off');
          return 'skipped';
        }
        if (d.attempts > 1) {
          // an earlier attempt may have reached Notify before this worker died: never send twice
          const earlier = await deps.notify.findByReference(id, channel);
          if (earlier) {
            await finish(id, 'sent', 'found at Notify by reference after a retry', earlier.id);
            return 'sent';
          }
        }
        const personalisation = notifyPersonalisation(alert, await newAckUrl(alertId, id));
        outcome =
          channel === 'sms'
            ? await deps.notify.sendSms(address, personalisation, id)
            : await deps.notify.sendEmail(address, personalisation, id);
      }
    } catch (err) {
      if (err instanceof ChannelConfigurationError) {
        logger.error({ deliveryId: id, channel, err: err.message }, 'delivery channel misconfigured');
        await finish(id, 'failed', err.message);
        return 'failed';
      }
      await alerts.noteDeliveryError(db, id, err instanceof Error ? err.message : String(err));
      throw err;
    }
    switch (outcome.status) {
      case 'sent':
        await finish(id, 'sent', null, outcome.providerId);
        logger.info({ deliveryId: id, channel }, 'delivered');
        return 'sent';
      case 'rejected':
        await finish(id, 'rejected', outcome.reason);
        logger.warn({ deliveryId: id, channel }, 'delivery rejected permanently');
        return 'rejected';
      case 'disabled':
        await finish(id, 'skipped', outcome.reason);
        return 'skipped';
    }
  }
}

function notifyPersonalisation(a: AlertContext, acknowledgeUrl: string): NotifyPersonalisation {
  return {
    event: eventWords(a.kind, meaningOf(a)),
    kind: a.kind,
    hospital: a.hospitalName ?? a.hospitalOds,
    client_reference: a.reference ?? '',
    acknowledge_url: acknowledgeUrl,
  };
}

function webhookBody(a: AlertContext, step: number, id: string, acknowledgeUrl: string): WebhookBody {
  const patient = a.parsed?.patient;
  const body: WebhookBody = {
    id,
    type: a.kind,
    alertId: a.id,
    admissionId: a.admissionId,
    escalationStep: step,
    occurredAt: a.occurredAt.toISOString(),
    patient: {
      nhsNumber: a.nhsNumber ?? patient?.nhsNumber ?? '',
      familyName: patient?.familyName ?? a.familyName ?? undefined,
      givenName: patient?.givenName ?? a.givenName ?? undefined,
      dateOfBirth: a.dateOfBirth ?? patient?.dateOfBirth ?? '',
      reference: a.reference ?? undefined,
    },
    hospital: { odsCode: a.hospitalOds, name: a.hospitalName ?? a.hospitalOds },
    acknowledgeUrl,
  };
  const loc = a.parsed?.location ?? a.location ?? undefined;
  if (loc && (loc.ward || loc.bed)) body.location = { ward: loc.ward, bed: loc.bed };
  if (a.kind === 'discharge' || a.kind === 'death') {
    body.discharge = {
      at: a.parsed?.dischargedAt ?? a.dischargedAt?.toISOString(),
      method: a.parsed?.discharge?.method,
      destination: a.parsed?.discharge?.destination,
      destinationCategory: meaningOf(a).destinationCategory ?? 'unknown',
    };
  }
  const cancels = meaningOf(a).cancels;
  if (a.kind === 'cancellation' && cancels) body.cancels = cancels;
  return body;
}

/** What the alert means beyond its kind, from its codes (alerts stored before codes: from the alert key). */
function meaningOf(a: AlertContext): AlertMeaning {
  return meaningOfAlert(a);
}
