import type { Channel } from './admission-event.js';

/** One rung of a provider's escalation ladder (CONTRACT.md `PUT /v1/providers/{id}/escalation-policy`). */
export interface EscalationStep {
  contactIds: string[];
  channels: Channel[];
  waitSeconds: number;
}

export interface EscalationPolicy {
  steps: EscalationStep[];
  /** how many times the whole ladder is run again after the last step; 0 = once */
  repeat: number;
}

/** One scheduled rung: step number (1-based, counting repeats), what to send, and how long to wait after it. */
export interface ScheduledStep extends EscalationStep {
  step: number;
}

/**
 * The ladder as it will run: step 1 at once, each next one after the previous `waitSeconds` without an
 * acknowledgement; the whole list `repeat` more times. After the last step the alert is `unacknowledged`.
 */
export function escalationSchedule(policy: EscalationPolicy): ScheduledStep[] {
  const out: ScheduledStep[] = [];
  const rounds = 1 + Math.max(0, Math.floor(policy.repeat));
  for (let r = 0; r < rounds; r++) {
    for (const s of policy.steps) out.push({ ...s, step: out.length + 1 });
  }
  return out;
}

/** Seconds from the first send until each step is sent (step 1 at 0), and when the alert gives up. */
export function escalationTimeline(policy: EscalationPolicy): { sendAt: number[]; unacknowledgedAt: number } {
  const sendAt: number[] = [];
  let t = 0;
  for (const s of escalationSchedule(policy)) {
    sendAt.push(t);
    t += s.waitSeconds;
  }
  return { sendAt, unacknowledgedAt: t };
}

/** Which alert kinds escalate: a transfer is informational, sent once with no ladder. */
export function escalates(kind: 'admission' | 'discharge' | 'death' | 'cancellation' | 'transfer'): boolean {
  return kind !== 'transfer' && kind !== 'cancellation';
}
