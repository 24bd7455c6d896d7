import { describe, expect, it } from 'vitest';
import { currentDetails, deliverySummary, formatDuration, waitSummary } from './details.js';
import { StayState } from './stay-state.js';

describe('what the Temporal UI shows of a stay', () => {
  it('says waits the way people do: 30 s, 10 min, 1 min 30 s, 2 h, 7 days', () => {
    expect([30, 600, 90, 7200, 7 * 86_400, 86_400].map(formatDuration)).toEqual([
      '30 s',
      '10 min',
      '1 min 30 s',
      '2 h',
      '7 days',
      '1 day',
    ]);
    expect(waitSummary(600)).toBe('wait 10 min for acknowledgement');
  });

  it('names the contact, role, channel and step of a delivery, and the resend when there is one', () => {
    const input = { alertId: 'a', step: 2, contactId: 'c', channel: 'sms' as const };
    expect(deliverySummary(input, 'Jo Bloggs (coordinator)')).toBe('deliver sms to Jo Bloggs (coordinator), step 2');
    expect(deliverySummary({ ...input, resend: 1 }, 'Jo Bloggs (coordinator)')).toBe(
      'deliver sms to Jo Bloggs (coordinator), step 2, resend 1',
    );
  });

  it('current details: status and reason, then each alert with whom it tried, its next escalation and its acknowledgement', () => {
    const state = new StayState('2026-11-22T09:00:00Z');
    state.matched({ status: 'matched', providers: [{ providerId: 'p1', providerOds: 'VH1', clientId: 'k' }] }, 0);
    state.contactsKnown([{ contactId: 'c1', name: 'Jo Bloggs', role: 'coordinator' }]);
    state.alertRaised({
      alertId: 'a1',
      providerId: 'p1',
      alertKey: 'admission#0',
      kind: 'admission',
      status: 'open',
      reached: [],
      coveredMoves: [],
    });
    state.stepSent('a1', 1);
    state.contactTried('a1', { contactId: 'c1', channel: 'sms', step: 1 });
    state.contactTried('a1', { contactId: 'c2', channel: 'email', step: 1, result: 'rejected' });
    state.contactTried('a1', { contactId: 'c1', channel: 'sms', step: 1, result: 'sent' });
    state.waiting('a1', { at: '2026-11-22T09:10:00.000Z', nextStep: 2 });
    state.status = 'alerting';
    expect(currentDetails(state)).toBe(
      [
        '**Status:** alerting',
        '',
        '**Provider VH1, admission alert:** open, step 1',
        '',
        '- tried Jo Bloggs (coordinator) by sms at step 1: sent',
        '- tried contact c2 by email at step 1: rejected',
        '- next escalation: step 2 at 2026-11-22T09:10:00Z',
      ].join('\n'),
    );
    state.acknowledgementRecorded('a1', 'acknowledged', 'Jo Bloggs', 'visits-paused');
    state.status = 'closed';
    state.statusReasonCode = 'closed-by-operator';
    expect(currentDetails(state)).toBe(
      [
        '**Status:** closed',
        '',
        '**Reason:** closed by an operator (`closed-by-operator`)',
        '',
        '**Provider VH1, admission alert:** acknowledged, step 1',
        '',
        '- tried Jo Bloggs (coordinator) by sms at step 1: sent',
        '- tried contact c2 by email at step 1: rejected',
        '- acknowledged by Jo Bloggs: visits-paused',
      ].join('\n'),
    );
  });
});
