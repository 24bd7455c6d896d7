/**
 * One delivery: one alert, one step, one contact, one channel. The delivery id is the idempotency key
 * (alert + step + contact + channel), enforced by the primary key, carried as Notify's `reference` and in the
 * webhook event id, so a retried activity never tells a person twice.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../src/hash.js';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { AdmissionEvent, AlertKind, Location } from '../src/domain/admission-event.js';
import { eventWords, meaningOfAlert, type AlertMeaning } from '../src/domain/alert-text.js';
import type { CancelsCode, DestinationCategory } from '../src/domain/clinical.js';
import type { Sql } from '../src/db/client.js';
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
  sql: Sql;
  notify: NotifySender;
  webhook: WebhookSender;
  publicBaseUrl: string;
  ackTokenTtlSeconds: number;
  logger: Logger;
}

interface AlertContext {
  id: string;
  kind: AlertKind;
  alert_key: string;
  status: string;
  cancels: CancelsCode | null;
  destination_category: DestinationCategory | null;
  admission_id: string;
  occurred_at: Date;
  hospital_ods: string;
  hospital_name: string | null;
  location: Location | null;
  discharged_at: Date | null;
  nhs_number: string | null;
  date_of_birth: string | null;
  family_name: string | null;
  given_name: string | null;
  reference: string | null;
  parsed: AdmissionEvent | null;
}

interface ContactRow {
  id: string;
  phone: string | null;
  email: string | null;
  webhook_url: string | null;
  webhook_secret: string | null;
  deleted_at: Date | null;
}

export const deliveryId = (alertId: string, step: number, contactId: string, channel: string): string =>
  `${alertId}:${step}:${contactId}:${channel}`;

/** Webhook event id: stable for every retry of one delivery, so receivers can de-duplicate. */
export const webhookEventId = (id: string): string =>
  `evt_${sha256Hex(id).slice(0, 32)}`;


/** How often a running delivery tells Temporal it is alive (the workflow's heartbeat timeout is a few times this). */
export const DELIVERY_HEARTBEAT_MS = 1_000;

/**
 * Heartbeats while a delivery runs, so that when its worker dies Temporal retries it after the short heartbeat
 * timeout (workflows/admission.ts) instead of the whole start-to-close timeout. Outside an activity: a no-op.
 */
function keepAlive(): () => void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return () => undefined;
  }
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), DELIVERY_HEARTBEAT_MS);
  return () => clearInterval(timer);
}

export function createDeliveryActivities(
  deps: DeliveryDeps,
): Pick<AdmissionActivities, 'deliver' | 'recordDeliveryFailure'> {
  const { sql, logger } = deps;

  async function finish(id: string, status: DeliveryResult | 'sent', detail: string | null, providerRef?: string) {
    await sql`update deliveries set status = ${status}, detail = ${detail}, provider_ref = ${providerRef ?? null},
      sent_at = ${status === 'sent' ? sql`now()` : null} where id = ${id}`;
  }

  async function newAckUrl(alertId: string, id: string): Promise<string> {
    const token = randomBytes(24).toString('base64url'); // 192 bits
    await sql`insert into ack_tokens (token_hash, alert_id, delivery_id, expires_at)
      values (${sha256Hex(token)}, ${alertId}, ${id}, now() + make_interval(secs => ${deps.ackTokenTtlSeconds}))`;
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

    async recordDeliveryFailure({ alertId, step, contactId, channel, reason }) {
      const id = deliveryId(alertId, step, contactId, channel);
      await sql`update deliveries set status = 'failed', detail = ${reason} where id = ${id} and status = 'pending'`;
    },
  };

  async function deliverOnce({ alertId, step, contactId, channel }: DeliverInput): Promise<DeliveryResult> {
    const id = deliveryId(alertId, step, contactId, channel);
    await sql`insert into deliveries (id, alert_id, step, contact_id, channel, status)
      values (${id}, ${alertId}, ${step}, ${contactId}, ${channel}, 'pending') on conflict (id) do nothing`;
    const [d] = await sql<{ status: string; attempts: number }[]>`
      update deliveries set attempts = attempts + 1 where id = ${id} returning status, attempts`;
    if (d!.status !== 'pending') return d!.status as DeliveryResult;

    const [alert] = await sql<AlertContext[]>`
      select a.id, a.kind, a.alert_key, a.status, a.cancels, a.destination_category, a.admission_id, a.occurred_at, ad.hospital_ods, h.name as hospital_name,
             ad.location, ad.discharged_at, c.nhs_number, c.date_of_birth::text as date_of_birth, c.family_name,
             c.given_name, c.reference, m.parsed
      from alerts a
      join admissions ad on ad.id = a.admission_id
      left join hospitals h on h.ods_code = ad.hospital_ods
      left join clients c on c.id = a.client_id
      left join inbound_messages m on m.id::text = a.message_id
      where a.id = ${alertId}`;
    if (!alert) throw ApplicationFailure.nonRetryable(`alert ${alertId} not found`, 'NotFound');
    if (alert.status === 'acknowledged' || alert.status === 'withdrawn') {
      await finish(id, 'skipped', `alert already ${alert.status}`);
      return 'skipped';
    }
    await sql`update alerts set escalation_step = greatest(escalation_step, ${step}) where id = ${alertId}`;

    const [contact] = await sql<ContactRow[]>`
      select id, phone, email, webhook_url, webhook_secret, deleted_at from contacts where id = ${contactId}`;
    if (!contact || contact.deleted_at) {
      await finish(id, 'skipped', 'contact no longer exists');
      return 'skipped';
    }

    let outcome: SendOutcome;
    try {
      if (channel === 'webhook') {
        if (!contact.webhook_url || !contact.webhook_secret) {
          await finish(id, 'skipped', 'contact has no webhook URL');
          return 'skipped';
        }
        const body = webhookBody(alert, step, webhookEventId(id), await newAckUrl(alertId, id));
        outcome = await deps.webhook.send(contact.webhook_url, contact.webhook_secret, body);
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
        if (d!.attempts > 1) {
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
      await sql`update deliveries set detail = ${err instanceof Error ? err.message : String(err)} where id = ${id}`;
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
    hospital: a.hospital_name ?? a.hospital_ods,
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
    admissionId: a.admission_id,
    escalationStep: step,
    occurredAt: a.occurred_at.toISOString(),
    patient: {
      nhsNumber: a.nhs_number ?? patient?.nhsNumber ?? '',
      familyName: patient?.familyName ?? a.family_name ?? undefined,
      givenName: patient?.givenName ?? a.given_name ?? undefined,
      dateOfBirth: a.date_of_birth ?? patient?.dateOfBirth ?? '',
      reference: a.reference ?? undefined,
    },
    hospital: { odsCode: a.hospital_ods, name: a.hospital_name ?? a.hospital_ods },
    acknowledgeUrl,
  };
  const loc = a.parsed?.location ?? a.location ?? undefined;
  if (loc && (loc.ward || loc.bed)) body.location = { ward: loc.ward, bed: loc.bed };
  if (a.kind === 'discharge' || a.kind === 'death') {
    body.discharge = {
      at: a.parsed?.dischargedAt ?? a.discharged_at?.toISOString(),
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
