import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { AlertKind } from './admission-event.js';
import { allowedOutcomes, cancelledEvent, defaultOutcome, eventWords, type AlertMeaning } from './alert-text.js';
import { DESTINATION_CATEGORIES } from './clinical.js';

describe('eventWords', () => {
  it('says what happened for each kind', () => {
    expect(eventWords('admission')).toBe('admitted to hospital');
    expect(eventWords('discharge', { destinationCategory: 'home' })).toBe('discharged home');
    expect(eventWords('death')).toBe('reported to have died in hospital');
    expect(eventWords('transfer')).toBe('moved to another ward');
  });

  it('a cancellation says which event it cancels: an A11 admission, or an A13 discharge (still in hospital)', () => {
    expect(eventWords('cancellation', { cancels: cancelledEvent('cancellation#1') })).toMatch(
      /^not admitted after all/,
    );
    expect(eventWords('cancellation', { cancels: cancelledEvent('discharge-cancelled#0') })).toMatch(
      /still in hospital/,
    );
  });

  it('a cancellation without its key claims neither: never "no longer in hospital" for an undone discharge', () => {
    const words = eventWords('cancellation');
    expect(words).not.toMatch(/no longer in hospital|still in hospital|not admitted|not discharged/);
    expect(words).toMatch(/cancelled/);
  });
});

describe('cancelledEvent', () => {
  it('reads the alert keys of the alert plan', () => {
    expect(cancelledEvent('cancellation#2')).toBe('admission');
    expect(cancelledEvent('discharge-cancelled#0')).toBe('discharge');
    expect(cancelledEvent('admission#0')).toBeUndefined();
    expect(cancelledEvent('transfer:123')).toBeUndefined();
  });
});

describe('defaultOutcome', () => {
  it('admission pauses visits, discharge resumes them, anything else is noted', () => {
    expect(defaultOutcome('admission')).toBe('visits-paused');
    expect(defaultOutcome('discharge', { destinationCategory: 'home' })).toBe('visits-resumed');
    expect(defaultOutcome('death')).toBe('care-ended');
    expect(defaultOutcome('cancellation')).toBe('noted');
    expect(defaultOutcome('transfer')).toBe('noted');
  });
});

/**
 * CONTRACT.md "Words": `event` completes "Your client was …" for every kind and category, so the README's example
 * templates read correctly. The templates are read from README.md itself and rendered as Notify would.
 */
describe("the README's example Notify templates, rendered for every alert", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const smsTemplate = /Example SMS template:\s*```\n([\s\S]*?)\n```/.exec(readme)?.[1];
  const emailSubject = /Example email template\. Subject: `([^`]+)`/.exec(readme)?.[1];
  const emailBody = /Example email template\.[^\n]*Body:\s*```\n([\s\S]*?)\n```/.exec(readme)?.[1];
  const render = (template: string, event: string, kind: string) =>
    template.replace(
      /\(\((\w+)\)\)/g,
      (_, key: string) =>
        ({
          event,
          kind,
          hospital: 'Leeds General Infirmary',
          client_reference: 'CL-0042',
          acknowledge_url: 'https://alerts.example/a/x',
        })[key] ?? `((${key}))`,
    );

  const cases: [AlertKind, AlertMeaning, string][] = [
    ['admission', {}, 'Your client was admitted to hospital'],
    ['discharge', { destinationCategory: 'home' }, 'Your client was discharged home'],
    ['discharge', { destinationCategory: 'care-home' }, 'Your client was discharged to a care home or hospice'],
    ['discharge', { destinationCategory: 'hospital' }, 'Your client was moved to another hospital'],
    [
      'discharge',
      { destinationCategory: 'unknown' },
      'Your client was discharged, destination not known: check before resuming visits',
    ],
    ['discharge', {}, 'Your client was discharged, destination not known: check before resuming visits'],
    ['death', {}, 'Your client was reported to have died in hospital'],
    [
      'cancellation',
      { cancels: 'admission' },
      'Your client was not admitted after all: the hospital cancelled the admission',
    ],
    [
      'cancellation',
      { cancels: 'discharge' },
      'Your client was not discharged after all (still in hospital): the hospital cancelled the discharge',
    ],
    [
      'cancellation',
      { cancels: 'wrong-patient' },
      "Your client was named in an alert sent in error: the hospital corrected the patient's details",
    ],
    [
      'cancellation',
      { cancels: 'replaced-by-death' },
      'Your client was reported to have died in hospital: this replaces the earlier discharge alert',
    ],
    ['transfer', {}, 'Your client was moved to another ward'],
  ];

  it('finds both templates in the README', () => {
    expect(smsTemplate).toContain('((event))');
    expect(emailSubject).toContain('((event))');
    expect(emailBody).toContain('((event))');
  });

  it.each(cases)('%s %j reads "%s"', (kind, meaning, sentence) => {
    const event = eventWords(kind, meaning);
    const sms = render(smsTemplate!, event, kind);
    const subject = render(emailSubject!, event, kind);
    const body = render(emailBody!, event, kind);
    expect(sms).toContain(`${sentence.replace(/^Your/, 'your')} at Leeds General Infirmary.`);
    expect(subject).toBe(`Home care alert: ${sentence.replace(/^Your/, 'your')}`);
    expect(body.startsWith(`${sentence} at Leeds General Infirmary.`)).toBe(true);
    for (const text of [sms, subject, body]) {
      expect(text).not.toMatch(/\(\(\w+\)\)/);
      expect(text).not.toMatch(/was (died|discharged from hospital|the subject)/);
      expect(text).not.toContain('Admission alert');
    }
  });

  it('every category has words and a default outcome that is never "visits resumed" on doubt', () => {
    for (const category of DESTINATION_CATEGORIES) {
      expect(eventWords('discharge', { destinationCategory: category })).toMatch(/^[a-z]/);
      if (category !== 'home')
        expect(defaultOutcome('discharge', { destinationCategory: category })).not.toBe('visits-resumed');
    }
    expect(allowedOutcomes('death')).toEqual(['care-ended', 'noted']);
    expect(allowedOutcomes('discharge', { destinationCategory: 'hospital' })).not.toContain('visits-resumed');
  });
});
