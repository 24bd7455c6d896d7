/**
 * Messages to the operator contacts (CONTRACT.md "Unmatched, never silent"): OPERATOR_WEBHOOK_URL, signed like
 * providers' webhooks, and OPERATOR_EMAIL through Notify. One row per message and channel in `operator_messages`
 * (id `<kind>:<admission id>:<channel>`), so a retried activity never sends twice. No patient data.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { Sql } from '../src/db/client.js';
import { statusReasonText, type StatusReasonCode } from '../src/domain/clinical.js';
import { sha256Hex } from '../src/hash.js';
import type { NotifySender, OperatorMessageBody, SendOutcome, WebhookSender } from '../src/notify/channel.js';
import type { AdmissionActivities } from './types.js';

export interface OperatorContacts {
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
  email: string | undefined;
}

export interface OperatorDeps {
  sql: Sql;
  notify: NotifySender;
  webhook: WebhookSender;
  publicBaseUrl: string;
  operator?: OperatorContacts;
  logger: Logger;
}

export function createOperatorActivities(deps: OperatorDeps): Pick<AdmissionActivities, 'notifyReviewWaiting'> {
  const { sql, logger } = deps;
  const contacts = deps.operator ?? { webhookUrl: undefined, webhookSecret: undefined, email: undefined };

  /** Sends one message on one channel once: a row already `sent` (or refused for good) is not sent again. */
  async function once(id: string, channel: 'webhook' | 'email', admissionId: string, send: () => Promise<SendOutcome>) {
    await sql`insert into operator_messages (id, kind, channel, admission_id, status)
      values (${id}, 'review-waiting', ${channel}, ${admissionId}, 'pending') on conflict (id) do nothing`;
    const [row] = await sql<{ status: string }[]>`
      update operator_messages set attempts = attempts + 1 where id = ${id} returning status`;
    if (row?.status !== 'pending') return;
    const outcome = await send();
    const status = outcome.status === 'sent' ? 'sent' : outcome.status === 'rejected' ? 'rejected' : 'skipped';
    const detail = outcome.status === 'sent' ? null : outcome.reason;
    await sql`update operator_messages set status = ${status}, detail = ${detail},
      sent_at = ${status === 'sent' ? sql`now()` : null} where id = ${id}`;
    logger.info({ operatorMessage: id, channel, outcome: status }, 'operator message');
  }

  return {
    async notifyReviewWaiting({ admissionId }) {
      const [adm] = await sql<
        {
          status: string;
          review_resolved_at: Date | null;
          hospital_ods: string;
          hospital_name: string | null;
          visit_number: string;
          status_reason_code: StatusReasonCode | null;
          status_reason: string | null;
          unmatched_since: Date | null;
        }[]
      >`
        select ad.status, ad.review_resolved_at, ad.hospital_ods, h.name as hospital_name, ad.visit_number,
          ad.status_reason_code, ad.status_reason, ad.unmatched_since
        from admissions ad left join hospitals h on h.ods_code = ad.hospital_ods where ad.id = ${admissionId}`;
      if (!adm) throw ApplicationFailure.nonRetryable(`admission ${admissionId} not found`, 'NotFound');
      if (adm.status !== 'unmatched' || adm.review_resolved_at !== null) return; // resolved meanwhile
      if (!contacts.webhookUrl && !contacts.email) {
        logger.warn({ admissionId }, 'a stay waits in the review queue and no operator contact is configured');
        return;
      }
      const hospital = adm.hospital_name ?? adm.hospital_ods;
      const reason = adm.status_reason ?? (adm.status_reason_code ? statusReasonText(adm.status_reason_code) : null);
      const reviewUrl = `${deps.publicBaseUrl}/v1/review`;
      if (contacts.webhookUrl && contacts.webhookSecret) {
        const id = `review-waiting:${admissionId}:webhook`;
        const body: OperatorMessageBody = {
          id: `evt_${sha256Hex(id).slice(0, 32)}`,
          type: 'review-waiting',
          admissionId,
          hospital: { odsCode: adm.hospital_ods, name: hospital },
          visitNumber: adm.visit_number,
          statusReasonCode: adm.status_reason_code,
          statusReason: reason,
          since: adm.unmatched_since?.toISOString() ?? null,
          reviewUrl,
        };
        await once(id, 'webhook', admissionId, () => deps.webhook.send(contacts.webhookUrl!, contacts.webhookSecret!, body));
      } else if (contacts.webhookUrl) {
        logger.error('OPERATOR_WEBHOOK_URL is set without OPERATOR_WEBHOOK_SECRET: operator webhooks are not sent');
      }
      if (contacts.email) {
        const id = `review-waiting:${admissionId}:email`;
        await once(id, 'email', admissionId, () =>
          deps.notify.sendOperatorEmail(
            contacts.email!,
            {
              subject: `A hospital stay at ${hospital} needs review`,
              message: `Visit ${adm.visit_number} at ${hospital} could not be matched to a care provider's client (${adm.status_reason_code ?? 'unmatched'}: ${reason ?? 'no reason recorded'}). Until someone resolves it, no provider is told about this stay.`,
              link: reviewUrl,
            },
            id,
          ),
        );
      }
    },
  };
}
