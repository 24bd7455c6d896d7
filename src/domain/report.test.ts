import { describe, expect, it } from 'vitest';
import { percentile, summarise, summaryRecords, type ReportFacts } from './report.js';

describe('percentile', () => {
  it('interpolates linearly between closest ranks (percentile_cont)', () => {
    expect(percentile([300, 1800, 7200], 0.5)).toBe(1800);
    expect(percentile([300, 1800, 7200], 0.9)).toBeCloseTo(6120);
    expect(percentile([60, 120], 0.5)).toBe(90);
    expect(percentile([42], 0.9)).toBe(42);
    expect(percentile([], 0.5)).toBeUndefined();
  });
});

describe('summarise', () => {
  const period = { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-04-01T00:00:00Z') };
  const facts: ReportFacts = {
    admissionsMatched: 3,
    alerts: [
      { kind: 'admission', status: 'acknowledged', outcome: 'visits-paused', acknowledged: true, count: 2 },
      { kind: 'admission', status: 'unacknowledged', outcome: null, acknowledged: false, count: 1 },
      { kind: 'discharge', status: 'withdrawn', outcome: 'visits-resumed', acknowledged: true, count: 1 },
      { kind: 'discharge', status: 'withdrawn', outcome: null, acknowledged: false, count: 1 },
      { kind: 'transfer', status: 'acknowledged', outcome: 'noted', acknowledged: true, count: 1 },
      { kind: 'cancellation', status: 'open', outcome: null, acknowledged: false, count: 1 },
    ],
    acknowledgements: [
      { kind: 'admission', ms: 300_000 },
      { kind: 'admission', ms: 7_200_000 },
      { kind: 'discharge', ms: 900_000 },
      { kind: 'transfer', ms: 1_000 },
    ],
    deliveries: [
      { channel: 'sms', status: 'sent', count: 4 },
      { channel: 'sms', status: 'rejected', count: 1 },
      { channel: 'webhook', status: 'sent', count: 5 },
    ],
  };

  it('counts acknowledgements only of alerts that ask for one (admission, discharge, death), 15 min and 1 h inclusive', () => {
    const s = summarise(period, null, facts);
    expect(s.alertsByKind).toEqual({ admission: 3, discharge: 2, death: 0, cancellation: 1, transfer: 1 });
    expect(s.acknowledgement).toEqual({
      alerts: 5,
      acknowledged: 3,
      within15Minutes: 2,
      within1Hour: 2,
      medianSeconds: 900,
      p90Seconds: 5940,
      unacknowledged: 1,
      open: 0,
      withdrawn: 1,
    });
    expect(s.acknowledgementOutcomes).toEqual({
      'visits-paused': 2,
      'visits-resumed': 1,
      'not-our-client': 0,
      noted: 0,
      'care-ended': 0,
    });
    expect(s.deliveries.sms).toEqual({ sent: 4, rejected: 1, skipped: 0, failed: 0, pending: 0 });
    expect(s.deliveries.email).toEqual({ sent: 0, rejected: 0, skipped: 0, failed: 0, pending: 0 });
  });

  it('gives null times when nothing was acknowledged', () => {
    const s = summarise(period, null, { admissionsMatched: 0, alerts: [], acknowledgements: [], deliveries: [] });
    expect(s.acknowledgement).toMatchObject({ acknowledged: 0, medianSeconds: null, p90Seconds: null });
  });

  it('writes the same figures as metric,dimension,value records in the JSON order', () => {
    const records = summaryRecords(summarise(period, null, facts));
    expect(records.slice(0, 6)).toEqual([
      ['metric', 'dimension', 'value'],
      ['from', '', '2026-03-01T00:00:00.000Z'],
      ['to', '', '2026-04-01T00:00:00.000Z'],
      ['provider', '', 'all'],
      ['admissionsMatched', '', 3],
      ['alertsByKind', 'admission', 3],
    ]);
    expect(records).toContainEqual(['acknowledgement', 'medianSeconds', 900]);
    expect(records).toContainEqual(['deliveries', 'sms.rejected', 1]);
    expect(records).toHaveLength(1 + 4 + 5 + 9 + 5 + 15);
  });
});
