import { describe, expect, it } from 'vitest';
import { cancelledEvent, defaultOutcome, eventWords } from './alert-text.js';

describe('eventWords', () => {
  it('says what happened for each kind', () => {
    expect(eventWords('admission')).toBe('admitted to hospital');
    expect(eventWords('discharge', { destinationCategory: 'home' })).toBe('discharged home');
    expect(eventWords('death')).toBe('reported to have died in hospital');
    expect(eventWords('transfer')).toBe('moved to another ward');
  });

  it('a cancellation says which event it cancels: an A11 admission, or an A13 discharge (still in hospital)', () => {
    expect(eventWords('cancellation', { cancels: cancelledEvent('cancellation#1') })).toMatch(/^not admitted after all/);
    expect(eventWords('cancellation', { cancels: cancelledEvent('discharge-cancelled#0') })).toMatch(/still in hospital/);
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
