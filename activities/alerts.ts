/** Activities on alerts: raise (idempotent by alert key), withdraw, reopen, give up, acknowledge. */
import { ApplicationFailure } from '@temporalio/activity';
import { acknowledgeAlert } from '../src/db/alerts.js';
import { cancelledEvent } from '../src/domain/alert-text.js';
import type { Sql } from '../src/db/client.js';
import type { EscalationPolicy, EscalationStep } from '../src/domain/escalation.js';
import type { AdmissionActivities } from './types.js';

export function createAlertActivities(deps: { sql: Sql }): Pick<
  AdmissionActivities,
  'raiseAlert' | 'withdrawAlert' | 'reopenAlert' | 'markUnacknowledged' | 'acknowledgeAlert'
> {
  const { sql } = deps;

  async function policyOf(providerId: string): Promise<EscalationPolicy> {
    const [policy] = await sql<{ steps: EscalationStep[]; repeat: number }[]>`
      select steps, repeat from escalation_policies where provider_id = ${providerId}`;
    return policy && policy.steps.length > 0 ? { steps: policy.steps, repeat: policy.repeat } : defaultPolicy(sql, providerId);
  }

  return {
    async raiseAlert(input) {
      await sql`
        insert into alerts (admission_id, provider_id, client_id, alert_key, kind, status, message_id, occurred_at,
                            cancels, destination_category)
        values (${input.admissionId}, ${input.providerId}, ${input.clientId || null}, ${input.alertKey}, ${input.kind},
                'open', ${input.messageId ?? null}, ${input.occurredAt || new Date().toISOString()},
                ${input.cancels ?? (input.kind === 'cancellation' ? (cancelledEvent(input.alertKey) ?? null) : null)},
                ${input.destinationCategory ?? null})
        on conflict (admission_id, provider_id, alert_key) do nothing`;
      const [alert] = await sql<{ id: string; status: 'open' | 'acknowledged' | 'unacknowledged' | 'withdrawn' }[]>`
        select id, status from alerts
        where admission_id = ${input.admissionId} and provider_id = ${input.providerId} and alert_key = ${input.alertKey}`;
      return { alertId: alert!.id, status: alert!.status, policy: await policyOf(input.providerId) };
    },

    async withdrawAlert({ alertId, reason }) {
      await sql`update alerts set status = 'withdrawn', withdrawn_reason = ${reason}
        where id = ${alertId} and status <> 'withdrawn'`;
    },

    async reopenAlert({ alertId, providerId }) {
      await sql`update alerts set status = 'open', withdrawn_reason = null where id = ${alertId} and status = 'withdrawn'`;
      const [alert] = await sql<{ id: string; status: 'open' | 'acknowledged' | 'unacknowledged' | 'withdrawn' }[]>`
        select id, status from alerts where id = ${alertId}`;
      if (!alert) throw ApplicationFailure.nonRetryable(`alert ${alertId} not found`, 'NotFound');
      return { alertId: alert.id, status: alert.status, policy: await policyOf(providerId) };
    },

    async markUnacknowledged({ alertId }) {
      await sql`update alerts set status = 'unacknowledged' where id = ${alertId} and status = 'open'`;
    },

    async acknowledgeAlert(input) {
      const res = await acknowledgeAlert(sql, input);
      if (!res) throw new Error(`alert ${input.alertId} not found`);
      return res;
    },
  };
}

/** A provider with no policy yet: every contact, on every channel it has, once, waiting an hour. */
async function defaultPolicy(sql: Sql, providerId: string): Promise<EscalationPolicy> {
  const contacts = await sql<{ id: string; phone: string | null; email: string | null; webhook_url: string | null }[]>`
    select id, phone, email, webhook_url from contacts where provider_id = ${providerId} and deleted_at is null
    order by created_at`;
  const channels = new Set<'sms' | 'email' | 'webhook'>();
  for (const c of contacts) {
    if (c.phone) channels.add('sms');
    if (c.email) channels.add('email');
    if (c.webhook_url) channels.add('webhook');
  }
  return {
    steps: [{ contactIds: contacts.map((c) => c.id), channels: [...channels], waitSeconds: 3600 }],
    repeat: 0,
  };
}
