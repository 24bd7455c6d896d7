import { describe, expect, it } from 'vitest';
import { escalates, escalationSchedule, escalationTimeline, type EscalationPolicy } from './escalation.js';

const twoSteps: EscalationPolicy = {
  steps: [
    { contactIds: ['day'], channels: ['webhook', 'sms'], waitSeconds: 300 },
    { contactIds: ['manager'], channels: ['sms'], waitSeconds: 600 },
  ],
  repeat: 0,
};

describe('escalationSchedule', () => {
  it('numbers the steps from 1 and keeps what each sends to', () => {
    expect(escalationSchedule(twoSteps)).toEqual([
      { step: 1, contactIds: ['day'], channels: ['webhook', 'sms'], waitSeconds: 300 },
      { step: 2, contactIds: ['manager'], channels: ['sms'], waitSeconds: 600 },
    ]);
  });

  it('runs the whole ladder `repeat` more times, counting steps on across rounds', () => {
    const s = escalationSchedule({ ...twoSteps, repeat: 2 });
    expect(s.map((x) => x.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.map((x) => x.contactIds[0])).toEqual(['day', 'manager', 'day', 'manager', 'day', 'manager']);
  });

  it('treats a negative or fractional repeat as whole rounds, never fewer than one', () => {
    expect(escalationSchedule({ ...twoSteps, repeat: -3 })).toHaveLength(2);
    expect(escalationSchedule({ ...twoSteps, repeat: 1.7 })).toHaveLength(4);
  });

  it('has nothing to send for a policy without steps', () => {
    expect(escalationSchedule({ steps: [], repeat: 5 })).toEqual([]);
  });

  it('does not share step objects with the policy', () => {
    const s = escalationSchedule(twoSteps);
    s[0]!.waitSeconds = 1;
    expect(twoSteps.steps[0]!.waitSeconds).toBe(300);
  });
});

describe('escalationTimeline', () => {
  it('sends step 1 at once, each next step after the previous wait, and gives up after the last wait', () => {
    expect(escalationTimeline(twoSteps)).toEqual({ sendAt: [0, 300], unacknowledgedAt: 900 });
  });

  it('repeats the waits with the steps', () => {
    expect(escalationTimeline({ ...twoSteps, repeat: 1 })).toEqual({
      sendAt: [0, 300, 900, 1200],
      unacknowledgedAt: 1800,
    });
  });

  it('a zero wait sends the next step at the same moment', () => {
    const policy: EscalationPolicy = {
      steps: [
        { contactIds: ['a'], channels: ['email'], waitSeconds: 0 },
        { contactIds: ['b'], channels: ['email'], waitSeconds: 2 },
      ],
      repeat: 0,
    };
    expect(escalationTimeline(policy)).toEqual({ sendAt: [0, 0], unacknowledgedAt: 2 });
  });

  it('a policy without steps is unacknowledged at once', () => {
    expect(escalationTimeline({ steps: [], repeat: 0 })).toEqual({ sendAt: [], unacknowledgedAt: 0 });
  });
});

describe('escalates', () => {
  it('admission, discharge and death go up the ladder; transfer and cancellation are sent once', () => {
    expect(escalates('admission')).toBe(true);
    expect(escalates('discharge')).toBe(true);
    expect(escalates('death')).toBe(true);
    expect(escalates('transfer')).toBe(false);
    expect(escalates('cancellation')).toBe(false);
  });
});
