/** Activities on alerts: raise (idempotent by alert key), withdraw, reopen, give up, acknowledge, restart (resend). */
import { ApplicationFailure } from '@temporalio/activity';
import * as alerts from '../src/db/alerts.js';
import type { Db } from '../src/db/client.js';
import * as providers from '../src/db/providers.js';
import { cancelledEvent } from '../src/domain/alert-text.js';
import type { EscalationPolicy } from '../src/domain/escalation.js';
import type { AdmissionActivities, ContactName, RaisedAlert } from './types.js';

export function createAlertActivities(deps: {
  db: Db;
}): Pick<
  AdmissionActivities,
  'raiseAlert' | 'withdrawAlert' | 'reopenAlert' | 'markUnacknowledged' | 'acknowledgeAlert' | 'restartAlert'
> {
  const { db } = deps;

  async function policyOf(providerId: string): Promise<EscalationPolicy> {
    const policy = await providers.getPolicy(db, providerId);
    return policy && policy.steps.length > 0 ? policy : defaultPolicy(db, providerId);
  }

  /** The alert as the workflow carries on with it: its status, the provider's policy and its contacts' names. */
  async function raised(
    alert: { id: string; status: RaisedAlert['status'] },
    providerId: string,
  ): Promise<RaisedAlert> {
    return {
      alertId: alert.id,
      status: alert.status,
      policy: await policyOf(providerId),
      contacts: await names(providerId),
    };
  }

  async function names(providerId: string): Promise<ContactName[]> {
    const contacts = await providers.listContacts(db, providerId);
    return contacts.map((c) => ({ contactId: c.id, name: c.name, role: c.role }));
  }

  return {
    async raiseAlert(input) {
      const alert = await alerts.raise(db, {
        admissionId: input.admissionId,
        providerId: input.providerId,
        clientId: input.clientId || null,
        alertKey: input.alertKey,
        kind: input.kind,
        messageId: input.messageId ?? null,
        occurredAt: input.occurredAt || new Date().toISOString(),
        cancels: input.cancels ?? (input.kind === 'cancellation' ? (cancelledEvent(input.alertKey) ?? null) : null),
        destinationCategory: input.destinationCategory ?? null,
      });
      return raised(alert, input.providerId);
    },

    async withdrawAlert({ alertId, reason }) {
      await alerts.withdraw(db, alertId, reason);
    },

    async reopenAlert({ alertId, providerId }) {
      const alert = await alerts.reopen(db, alertId);
      if (!alert) throw ApplicationFailure.nonRetryable(`alert ${alertId} not found`, 'NotFound');
      return raised(alert, providerId);
    },

    async restartAlert({ alertId, providerId }) {
      const alert = await alerts.restartLadder(db, alertId);
      if (!alert) throw ApplicationFailure.nonRetryable(`alert ${alertId} not found`, 'NotFound');
      return raised(alert, providerId);
    },

    async markUnacknowledged({ alertId }) {
      await alerts.markUnacknowledged(db, alertId);
    },

    async acknowledgeAlert(input) {
      const res = await alerts.acknowledge(db, input);
      if (!res) throw new Error(`alert ${input.alertId} not found`);
      return res;
    },
  };
}

/** A provider with no policy yet: every contact, on every channel it has, once, waiting an hour. */
async function defaultPolicy(db: Db, providerId: string): Promise<EscalationPolicy> {
  const contacts = await providers.activeContacts(db, providerId);
  const channels = new Set<'sms' | 'email' | 'webhook'>();
  for (const c of contacts) {
    if (c.phone) channels.add('sms');
    if (c.email) channels.add('email');
    if (c.webhookUrl) channels.add('webhook');
  }
  return {
    steps: [{ contactIds: contacts.map((c) => c.id), channels: [...channels], waitSeconds: 3600 }],
    repeat: 0,
  };
}
