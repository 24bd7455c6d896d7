/**
 * What the Temporal Web UI shows of a stay (CONTRACT.md "Operators", SDK 1.24 "enriching the UI"): the summaries of
 * activities and timers, and the stay's current details in Markdown. Pure and deterministic (workflow code): made
 * from the workflow's state only, which holds codes, times, staff names and roles, and never patient data.
 */
import type { DeliverInput } from '../activities/types.js';
import { statusReasonText } from '../src/domain/clinical.js';
import type { StayState, TriedContact } from './stay-state.js';

/** `10 min`, `30 s`, `2 h`, `7 days`, `1 min 30 s`: a duration as the summaries say it. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 86_400 && s % 86_400 === 0) return s === 86_400 ? '1 day' : `${s / 86_400} days`;
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s < 60) return `${s} s`;
  return s % 60 === 0 ? `${s / 60} min` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** The summary of a ladder's wait: `wait 10 min for acknowledgement`. */
export const waitSummary = (seconds: number): string => `wait ${formatDuration(seconds)} for acknowledgement`;

/** The summary of a delivery: `deliver sms to Jo Bloggs (coordinator), step 2` (`, resend 1` for a resend). */
export const deliverySummary = (input: DeliverInput, contact: string): string =>
  `deliver ${input.channel} to ${contact}, step ${input.step}${input.resend ? `, resend ${input.resend}` : ''}`;

/** `<name> (<role>)` of a contact the workflow knows, else `contact <first 8 characters of its id>`. */
export function contactLabel(state: Pick<StayState, 'contacts'>, contactId: string): string {
  const c = state.contacts.get(contactId);
  return c ? `${c.name} (${c.role})` : `contact ${contactId.slice(0, 8)}`;
}

/** `2026-11-22T09:20:00Z`: an instant to the second. */
export const instant = (iso: string): string => iso.replace(/\.\d+Z$/, 'Z');

function tried(state: Pick<StayState, 'contacts'>, t: TriedContact): string {
  return `- tried ${contactLabel(state, t.contactId)} by ${t.channel} at step ${t.step}: ${t.result ?? 'sending'}`;
}

/**
 * The stay's current details (Markdown, paragraphs and flat lists, as the Web UI renders them): its status and the
 * reason for it; per provider and alert, its kind, status and step, the contacts its ladder tried (name, role,
 * channel, step, result), when it escalates next, and who acknowledged it with which outcome.
 */
export function currentDetails(
  state: Pick<StayState, 'status' | 'statusReasonCode' | 'alerts' | 'contacts' | 'providers' | 'providerOds'>,
): string {
  const lines = [`**Status:** ${state.status}`];
  if (state.statusReasonCode) {
    lines.push('', `**Reason:** ${statusReasonText(state.statusReasonCode)} (\`${state.statusReasonCode}\`)`);
  }
  const ods = (providerId: string) => state.providerOds.get(providerId) ?? providerId.slice(0, 8);
  const withAlerts = new Set<string>();
  for (const a of state.alerts.values()) {
    withAlerts.add(a.providerId);
    const resent = a.resend ? `, resend ${a.resend}` : '';
    lines.push('', `**Provider ${ods(a.providerId)}, ${a.kind} alert:** ${a.status}, step ${a.step}${resent}`);
    const items = (a.tried ?? []).map((t) => tried(state, t));
    if (a.waitingUntil && (a.status === 'open' || a.status === 'unacknowledged')) {
      const { at, nextStep } = a.waitingUntil;
      items.push(
        nextStep
          ? `- next escalation: step ${nextStep} at ${instant(at)}`
          : `- unacknowledged at ${instant(at)} unless someone acknowledges`,
      );
    }
    if (a.status === 'acknowledged' || a.acknowledgedBy) {
      const by = a.acknowledgedBy ? ` by ${a.acknowledgedBy}` : '';
      items.push(`- acknowledged${by}${a.outcome ? `: ${a.outcome}` : ''}`);
    }
    if (items.length > 0) lines.push('', ...items);
  }
  for (const p of state.providers) {
    if (!withAlerts.has(p.providerId)) lines.push('', `**Provider ${p.providerOds}:** no alert raised`);
  }
  if (state.providers.length === 0 && withAlerts.size === 0) lines.push('', 'No provider matched yet.');
  return lines.join('\n');
}
