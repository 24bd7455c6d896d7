/**
 * Messages to the operator contacts (CONTRACT.md "Unmatched, never silent"): OPERATOR_WEBHOOK_URL, signed like
 * providers' webhooks, and OPERATOR_EMAIL through Notify. One row per message and channel in `operator_messages`
 * (id `<kind>:<admission id>:<channel>`, or `<kind>:<hospital id>:<silentSince>:<channel>` for a hospital's feed), so
 * a retried activity never sends twice. No patient data.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from 'pino';
import * as admissions from '../src/db/admissions.js';
import type { Db } from '../src/db/client.js';
import { statusReasonText } from '../src/domain/clinical.js';
import { durationWords } from '../src/domain/feed.js';
import * as hospitals from '../src/db/hospitals.js';
import { sha256Hex } from '../src/hash.js';
import type { NotifySender, OperatorMessageBody, SendOutcome, WebhookSender } from '../src/notify/channel.js';
import type { FeedActivities } from './feeds.js';
import type { AdmissionActivities } from './types.js';

export interface OperatorContacts {
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
  email: string | undefined;
}

export interface OperatorDeps {
  db: Db;
  notify: NotifySender;
  webhook: WebhookSender;
  publicBaseUrl: string;
  operator?: OperatorContacts;
  logger: Logger;
}

export function createOperatorActivities(
  deps: OperatorDeps,
): Pick<AdmissionActivities, 'notifyReviewWaiting'> & Pick<FeedActivities, 'notifyFeed'> {
  const { db, logger } = deps;
  const contacts = deps.operator ?? { webhookUrl: undefined, webhookSecret: undefined, email: undefined };

  /** Sends one message on one channel once: a row already `sent` (or refused for good) is not sent again. */
  async function once(
    id: string,
    channel: 'webhook' | 'email',
    about: { kind: string; admissionId?: string; hospitalId?: string },
    send: () => Promise<SendOutcome>,
  ) {
    const status = await admissions.startOperatorMessage(db, { id, channel, ...about });
    if (status !== 'pending') return;
    const outcome = await send();
    const result = outcome.status === 'sent' ? 'sent' : outcome.status === 'rejected' ? 'rejected' : 'skipped';
    const detail = outcome.status === 'sent' ? null : outcome.reason;
    await admissions.finishOperatorMessage(db, id, result, detail);
    logger.info({ operatorMessage: id, channel, outcome: result }, 'operator message');
  }

  return {
    async notifyReviewWaiting({ admissionId }) {
      const adm = await admissions.reviewNotice(db, admissionId);
      if (!adm) throw ApplicationFailure.nonRetryable(`admission ${admissionId} not found`, 'NotFound');
      if (adm.status !== 'unmatched' || adm.reviewResolvedAt !== null) return; // resolved meanwhile
      if (!contacts.webhookUrl && !contacts.email) {
        logger.warn({ admissionId }, 'a stay waits in the review queue and no operator contact is configured');
        return;
      }
      const hospital = adm.hospitalName ?? adm.hospitalOds;
      const reason = adm.statusReason ?? (adm.statusReasonCode ? statusReasonText(adm.statusReasonCode) : null);
      const reviewUrl = `${deps.publicBaseUrl}/v1/review`;
      if (contacts.webhookUrl && contacts.webhookSecret) {
        const id = `review-waiting:${admissionId}:webhook`;
        const body: OperatorMessageBody = {
          id: `evt_${sha256Hex(id).slice(0, 32)}`,
          type: 'review-waiting',
          admissionId,
          hospital: { odsCode: adm.hospitalOds, name: hospital },
          visitNumber: adm.visitNumber,
          statusReasonCode: adm.statusReasonCode,
          statusReason: reason,
          since: adm.unmatchedSince?.toISOString() ?? null,
          reviewUrl,
        };
        await once(id, 'webhook', { kind: 'review-waiting', admissionId }, () =>
          deps.webhook.send(contacts.webhookUrl!, contacts.webhookSecret!, body),
        );
      } else if (contacts.webhookUrl) {
        logger.error('OPERATOR_WEBHOOK_URL is set without OPERATOR_WEBHOOK_SECRET: operator webhooks are not sent');
      }
      if (contacts.email) {
        const id = `review-waiting:${admissionId}:email`;
        await once(id, 'email', { kind: 'review-waiting', admissionId }, () =>
          deps.notify.sendOperatorEmail(
            contacts.email!,
            {
              subject: `A hospital stay at ${hospital} needs review`,
              message: `Visit ${adm.visitNumber} at ${hospital} could not be matched to a care provider's client (${adm.statusReasonCode ?? 'unmatched'}: ${reason ?? 'no reason recorded'}). Until someone resolves it, no provider is told about this stay.`,
              link: reviewUrl,
            },
            id,
          ),
        );
      }
    },

    async notifyFeed(notice) {
      const h = await hospitals.get(db, notice.hospitalId);
      if (!h) return; // no such hospital any more: nobody to tell about
      if (!contacts.webhookUrl && !contacts.email) {
        logger.warn(
          { hospital: h.odsCode, kind: notice.kind },
          'a hospital feed changed state and no operator contact is configured',
        );
        return;
      }
      const feedUrl = `${deps.publicBaseUrl}/v1/hospitals/${h.id}/feed`;
      const key = `${notice.kind}:${h.id}:${notice.silentSince}`;
      const about = { kind: notice.kind, hospitalId: h.id };
      if (contacts.webhookUrl && contacts.webhookSecret) {
        const id = `${key}:webhook`;
        const body: OperatorMessageBody = {
          id: `evt_${sha256Hex(id).slice(0, 32)}`,
          type: notice.kind,
          hospital: { id: h.id, odsCode: h.odsCode, name: h.name },
          silentSince: notice.silentSince,
          lastMessageAt: notice.lastMessageAt,
          silenceAlertSeconds: notice.silenceAlertSeconds,
          feedUrl,
        };
        await once(id, 'webhook', about, () => deps.webhook.send(contacts.webhookUrl!, contacts.webhookSecret!, body));
      } else if (contacts.webhookUrl) {
        logger.error('OPERATOR_WEBHOOK_URL is set without OPERATOR_WEBHOOK_SECRET: operator webhooks are not sent');
      }
      if (contacts.email) {
        const id = `${key}:email`;
        const who = `${h.name} (${h.odsCode})`;
        const personalisation =
          notice.kind === 'feed-silent'
            ? {
                subject: `No messages from ${who} for over ${durationWords(notice.silenceAlertSeconds)}`,
                message: `${who} has sent nothing since ${notice.silentSince}. Until its feed is back, care providers are not told when their clients are admitted to or discharged from this hospital: check the hospital's interface engine and the link to this service.`,
                link: feedUrl,
              }
            : {
                subject: `${who} is sending messages again`,
                message: `${who} is sending messages again (latest ${notice.lastMessageAt ?? 'unknown'}) after a silence since ${notice.silentSince}.`,
                link: feedUrl,
              };
        await once(id, 'email', about, () => deps.notify.sendOperatorEmail(contacts.email!, personalisation, id));
      }
    },
  };
}
