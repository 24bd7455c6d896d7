import { describe, expect, it } from 'vitest';
import { durationWords, planFeed, silentSince, type FeedFacts } from './feed.js';

const T0 = Date.parse('2026-11-22T09:00:00.000Z');
const facts = (over: Partial<FeedFacts> = {}): FeedFacts => ({
  lastMessageAt: '2026-11-22T09:00:00.000Z',
  registeredAt: '2026-11-01T00:00:00.000Z',
  silenceAlertSeconds: 7200,
  ...over,
});

describe('silentSince', () => {
  it('is null up to and at the threshold, the last message once it has passed ("longer than")', () => {
    expect(silentSince(facts(), T0 + 7200_000)).toBeNull();
    expect(silentSince(facts(), T0 + 7200_001)).toBe('2026-11-22T09:00:00.000Z');
  });

  it('counts from the registration while the hospital has sent nothing', () => {
    const f = facts({ lastMessageAt: null, registeredAt: '2026-11-22T09:00:00.000Z' });
    expect(silentSince(f, T0 + 7200_001)).toBe('2026-11-22T09:00:00.000Z');
  });

  it('is never silent with a threshold of 0', () => {
    expect(silentSince(facts({ silenceAlertSeconds: 0 }), T0 + 365 * 86400_000)).toBeNull();
  });
});

describe('planFeed', () => {
  it('sleeps until just past the threshold while the feed speaks', () => {
    expect(planFeed(facts(), null, T0 + 1000)).toEqual({ silentSince: null, messages: [], wakeInMs: 7199_001 });
  });

  it('announces a new silence once, then re-checks every minute (or every threshold, if shorter)', () => {
    const first = planFeed(facts(), null, T0 + 7200_001);
    expect(first).toEqual({
      silentSince: '2026-11-22T09:00:00.000Z',
      messages: [{ kind: 'feed-silent', silentSince: '2026-11-22T09:00:00.000Z' }],
      wakeInMs: 60_000,
    });
    expect(planFeed(facts(), '2026-11-22T09:00:00.000Z', T0 + 9000_000)).toEqual({
      silentSince: '2026-11-22T09:00:00.000Z',
      messages: [],
      wakeInMs: 60_000,
    });
    expect(planFeed(facts({ silenceAlertSeconds: 2 }), null, T0 + 5000).wakeInMs).toBe(2000);
  });

  it('makes sure of a known silence when asked (a fresh watcher run)', () => {
    expect(planFeed(facts(), '2026-11-22T09:00:00.000Z', T0 + 9000_000, true).messages).toEqual([
      { kind: 'feed-silent', silentSince: '2026-11-22T09:00:00.000Z' },
    ]);
  });

  it('announces the return of a feed when a message arrived after the silence began', () => {
    const back = facts({ lastMessageAt: '2026-11-22T12:00:00.000Z' });
    expect(planFeed(back, '2026-11-22T09:00:00.000Z', Date.parse('2026-11-22T12:00:01.000Z'))).toEqual({
      silentSince: null,
      messages: [{ kind: 'feed-resumed', silentSince: '2026-11-22T09:00:00.000Z' }],
      wakeInMs: 7199_001,
    });
  });

  it('tells the return and the new silence when the feed spoke and fell silent again between two looks', () => {
    const f = facts({ lastMessageAt: '2026-11-22T12:00:00.000Z', silenceAlertSeconds: 2 });
    expect(planFeed(f, '2026-11-22T09:00:00.000Z', Date.parse('2026-11-22T12:00:05.000Z')).messages).toEqual([
      { kind: 'feed-resumed', silentSince: '2026-11-22T09:00:00.000Z' },
      { kind: 'feed-silent', silentSince: '2026-11-22T12:00:00.000Z' },
    ]);
  });

  it('ends a silence without a message when the threshold is raised or set to 0 and nothing arrived', () => {
    const known = '2026-11-22T09:00:00.000Z';
    expect(planFeed(facts({ silenceAlertSeconds: 0 }), known, T0 + 9000_000)).toEqual({
      silentSince: null,
      messages: [],
      wakeInMs: 24 * 3600_000,
    });
    expect(planFeed(facts({ silenceAlertSeconds: 86400 }), known, T0 + 9000_000)).toEqual({
      silentSince: null,
      messages: [],
      wakeInMs: 86400_000 + 1 - 9000_000,
    });
  });
});

describe('durationWords', () => {
  it('says a threshold in the largest whole unit', () => {
    expect([7200, 3600, 5400, 90, 60, 3, 1].map(durationWords)).toEqual([
      '2 hours',
      '1 hour',
      '90 minutes',
      '90 seconds',
      '1 minute',
      '3 seconds',
      '1 second',
    ]);
  });
});
