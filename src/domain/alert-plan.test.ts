import { describe, expect, it } from 'vitest';
import type { AlertKind, EventKind, EventSummary, Location } from './admission-event.js';
import { admissionStatus, isQuiet, planProviderAlerts, planWrongPatient, type KnownAlert } from './alert-plan.js';
import { compareEvents, foldSpell } from './spell.js';

let nextId = 500;
const ward12: Location = { ward: 'Ward 12' };
const ward7: Location = { ward: 'Ward 7' };
const T = (h: number) => `2026-11-22T${String(h).padStart(2, '0')}:00:00.000Z`;

function ev(kind: EventKind, eventAt: string, extra: Partial<EventSummary> = {}): EventSummary {
  const id = String(nextId++);
  return {
    messageId: id,
    messageControlId: id,
    trigger: kind,
    kind,
    eventAt,
    messageAt: eventAt,
    receivedAt: eventAt,
    ...extra,
  };
}

/**
 * What the admission workflow does, without Temporal: events arrive one batch at a time; after each, the spell is
 * refolded and every provider's plan carried out until it is empty. A raised alert reaches its provider's contact
 * at once; `ack` acknowledges a provider's alerts of a kind before the next batch.
 */
function simulate(batches: (EventSummary[] | { ack: AlertKind })[], providers = ['P1']) {
  const alerts: KnownAlert[] = [];
  const seen: EventSummary[] = [];
  let n = 0;
  let rounds = 0;
  const settle = () => {
    for (;;) {
      const spell = foldSpell(seen);
      const latest =
        seen
          .map((e) => e.eventAt)
          .sort()
          .at(-1) ?? '';
      let changed = false;
      for (const p of providers) {
        const actions = planProviderAlerts(
          spell,
          alerts.filter((a) => a.providerId === p),
          latest,
        );
        for (const act of actions) {
          changed = true;
          if (act.type === 'raise') {
            alerts.push({
              alertId: `al${++n}`,
              providerId: p,
              alertKey: act.alertKey,
              kind: act.kind,
              status: 'open',
              reached: act.targets ?? [{ contactId: `${p}-c1`, channel: 'webhook' }],
              coveredMoves: act.coveredMoves,
            });
          } else {
            const a = alerts.find((x) => x.alertId === act.alertId)!;
            if (act.type === 'withdraw') Object.assign(a, { status: 'withdrawn', withdrawnReason: act.reason });
            else Object.assign(a, { status: 'open', withdrawnReason: undefined });
          }
        }
      }
      if (!changed) return spell;
      if (++rounds > 100) throw new Error('the plan never settles');
    }
  };
  let spell = foldSpell([]);
  for (const b of batches) {
    if (Array.isArray(b)) seen.push(...b);
    else for (const a of alerts) if (a.kind === b.ack && a.status === 'open') a.status = 'acknowledged';
    spell = settle();
  }
  return { spell, alerts, status: admissionStatus(spell, 'matched', alerts) };
}

const kinds = (alerts: KnownAlert[]) => alerts.map((a) => a.kind);

function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    for (const p of permutations([...items.slice(0, i), ...items.slice(i + 1)])) yield [items[i]!, ...p];
  }
}

describe('planProviderAlerts: what providers are told', () => {
  it('an admission gets one admission alert; a resend of the A01 gets none', () => {
    const a01 = ev('admit', T(9));
    const r = simulate([[a01], [ev('admit', T(9), { messageAt: T(10) })]]);
    expect(kinds(r.alerts)).toEqual(['admission']);
    expect(r.status).toBe('alerting');
  });

  it('a transfer after the admission alert is an informational transfer alert carrying the new location', () => {
    const a02 = ev('transfer', T(10), { location: ward7 });
    const r = simulate([[ev('admit', T(9), { location: ward12 })], [a02]]);
    expect(kinds(r.alerts)).toEqual(['admission', 'transfer']);
    const plan = planProviderAlerts(
      foldSpell([ev('admit', T(9)), a02]),
      [{ ...r.alerts[0]!, coveredMoves: [] }],
      T(10),
    );
    expect(plan).toEqual([
      expect.objectContaining({
        type: 'raise',
        kind: 'transfer',
        alertKey: `transfer:${a02.messageId}`,
        messageId: a02.messageId,
        occurredAt: T(10),
      }),
    ]);
  });

  it('a transfer known when the admission alert is raised is in its location, with no transfer alert', () => {
    const a01 = ev('admit', T(9), { location: ward12 });
    const a02 = ev('transfer', T(10), { location: ward7 });
    const [raise] = planProviderAlerts(foldSpell([a01, a02]), [], T(10));
    expect(raise).toMatchObject({
      type: 'raise',
      kind: 'admission',
      messageId: a02.messageId,
      coveredMoves: [a02.messageId],
    });
    expect(kinds(simulate([[a02], [a01]]).alerts)).toEqual(['admission']);
  });

  it('an A12 is a move too; a batch of moves is one transfer alert for where the patient is now', () => {
    const a01 = ev('admit', T(9), { location: ward12 });
    const a02 = ev('transfer', T(10), { location: ward7 });
    const a12 = ev('cancel-transfer', T(11));
    const r = simulate([[a01], [a02, a12]]);
    expect(kinds(r.alerts)).toEqual(['admission', 'transfer']);
    expect(r.alerts[1]!.alertKey).toBe(`transfer:${a12.messageId}`);
    expect(r.spell.location).toEqual(ward12);
  });

  it('no transfer alert once the stay is over, or for a provider whose admission alert was withdrawn', () => {
    const a01 = ev('admit', T(9));
    const r = simulate([[a01], [ev('discharge', T(11))], [ev('transfer', T(10), { location: ward7 })]]);
    expect(kinds(r.alerts)).toEqual(['admission', 'discharge']);
    const withdrawn: KnownAlert = {
      alertId: 'x',
      providerId: 'P1',
      alertKey: 'admission#0',
      kind: 'admission',
      status: 'withdrawn',
      withdrawnReason: 'other',
      reached: [],
      coveredMoves: [],
    };
    expect(planProviderAlerts(foldSpell([a01, ev('transfer', T(10))]), [withdrawn], T(10))).toEqual([]);
  });

  it('a discharge withdraws the admission alert still awaiting acknowledgement and raises a discharge alert', () => {
    const r = simulate([[ev('admit', T(9))], [ev('discharge', T(12))]]);
    expect(r.alerts.map((a) => [a.kind, a.status, a.withdrawnReason])).toEqual([
      ['admission', 'withdrawn', 'superseded-by-discharge'],
      ['discharge', 'open', undefined],
    ]);
    expect(r.status).toBe('discharged');
  });

  it('a death is a death alert', () => {
    const r = simulate([[ev('admit', T(9))], [ev('discharge', T(12), { discharge: { method: '4' } })]]);
    expect(kinds(r.alerts)).toEqual(['admission', 'death']);
  });

  it('an acknowledged discharge closes the stay', () => {
    const r = simulate([[ev('admit', T(9))], { ack: 'admission' }, [ev('discharge', T(12))], { ack: 'discharge' }]);
    expect(r.status).toBe('closed');
    expect(isQuiet(r.status, r.spell)).toBe(true);
  });

  it('an A13 withdraws the discharge alert, tells whoever heard of it, and the stay is back to acknowledged', () => {
    const r = simulate([
      [ev('admit', T(9))],
      { ack: 'admission' },
      [ev('discharge', T(12))],
      [ev('cancel-discharge', T(13))],
    ]);
    expect(r.alerts.map((a) => [a.kind, a.status])).toEqual([
      ['admission', 'acknowledged'],
      ['discharge', 'withdrawn'],
      ['cancellation', 'open'],
    ]);
    expect(r.alerts[2]!.alertKey).toBe('discharge-cancelled#0');
    expect(r.alerts[2]!.reached).toEqual([{ contactId: 'P1-c1', channel: 'webhook' }]);
    expect(r.status).toBe('acknowledged');
  });

  it('an A13 reopens the admission alert its discharge superseded, and withdraws even an acknowledged discharge alert', () => {
    const r = simulate([
      [ev('admit', T(9))],
      [ev('discharge', T(12))],
      { ack: 'discharge' },
      [ev('cancel-discharge', T(13))],
    ]);
    expect(r.alerts.map((a) => [a.kind, a.status])).toEqual([
      ['admission', 'open'],
      ['discharge', 'withdrawn'],
      ['cancellation', 'open'],
    ]);
    expect(r.status).toBe('alerting');
  });

  it('a discharge alert that reached nobody yet gets its cancellation once a delivery is known', () => {
    const a03 = ev('discharge', T(12));
    const spell = foldSpell([ev('admit', T(9)), a03, ev('cancel-discharge', T(13))]);
    const discharge: KnownAlert = {
      alertId: 'd',
      providerId: 'P1',
      alertKey: 'discharge#0',
      kind: 'discharge',
      status: 'withdrawn',
      withdrawnReason: 'discharge-cancelled',
      reached: [],
      coveredMoves: [],
    };
    const admission: KnownAlert = {
      alertId: 'a',
      providerId: 'P1',
      alertKey: 'admission#0',
      kind: 'admission',
      status: 'acknowledged',
      reached: [],
      coveredMoves: [],
    };
    expect(planProviderAlerts(spell, [admission, discharge], T(13))).toEqual([]);
    const reached = { ...discharge, reached: [{ contactId: 'c', channel: 'sms' as const }] };
    expect(planProviderAlerts(spell, [admission, reached], T(13))).toEqual([
      expect.objectContaining({
        type: 'raise',
        alertKey: 'discharge-cancelled#0',
        kind: 'cancellation',
        targets: [{ contactId: 'c', channel: 'sms' }],
        occurredAt: T(13),
      }),
    ]);
  });

  it('an A11 withdraws what the provider was told and sends one cancellation to whoever it reached', () => {
    const r = simulate([[ev('admit', T(9))], [ev('transfer', T(10))], [ev('cancel-admit', T(11))]]);
    expect(r.alerts.map((a) => [a.kind, a.status])).toEqual([
      ['admission', 'withdrawn'],
      ['transfer', 'withdrawn'],
      ['cancellation', 'open'],
    ]);
    expect(r.alerts[2]!.reached).toEqual([{ contactId: 'P1-c1', channel: 'webhook' }]);
    expect(r.status).toBe('cancelled');
  });

  it('an A11 before any alert tells nobody anything', () => {
    const r = simulate([[ev('cancel-admit', T(11))], [ev('admit', T(9))]]);
    expect(r.alerts).toEqual([]);
    expect(r.status).toBe('cancelled');
  });

  it('a readmission after an A11 is a new admission alert', () => {
    const r = simulate([[ev('admit', T(9))], [ev('cancel-admit', T(10))], [ev('admit', T(11))]]);
    expect(r.alerts.map((a) => [a.alertKey, a.status])).toEqual([
      ['admission#0', 'withdrawn'],
      ['cancellation#1', 'open'],
      ['admission#1', 'open'],
    ]);
    expect(r.status).toBe('alerting');
  });

  it('each provider of a client gets its own alerts', () => {
    const r = simulate([[ev('admit', T(9))]], ['P1', 'P2']);
    expect(r.alerts.map((a) => [a.providerId, a.kind])).toEqual([
      ['P1', 'admission'],
      ['P2', 'admission'],
    ]);
  });
});

describe('admissionStatus', () => {
  const admitted = foldSpell([ev('admit', T(9))]);
  it('is received until matched, and the match result when nobody is a client', () => {
    expect(admissionStatus(admitted, undefined, [])).toBe('received');
    expect(admissionStatus(admitted, 'no-care-package', [])).toBe('no-care-package');
    expect(admissionStatus(admitted, 'unmatched', [])).toBe('unmatched');
  });
  it('is unacknowledged when any provider ran out of steps, acknowledged only when all acknowledged', () => {
    const a = (status: KnownAlert['status']) => ({ alertKey: 'admission#0', status });
    expect(admissionStatus(admitted, 'matched', [a('acknowledged'), a('open')])).toBe('alerting');
    expect(admissionStatus(admitted, 'matched', [a('acknowledged'), a('unacknowledged')])).toBe('unacknowledged');
    expect(admissionStatus(admitted, 'matched', [a('acknowledged'), a('acknowledged')])).toBe('acknowledged');
  });
  it('an A05 alone is received and quiet: nothing to follow', () => {
    const s = foldSpell([ev('pre-admit', T(7))]);
    expect(admissionStatus(s, undefined, [])).toBe('received');
    expect(isQuiet('received', s)).toBe(true);
    expect(isQuiet('received', admitted)).toBe(false);
    expect(isQuiet('alerting', admitted)).toBe(false);
  });
});

describe('any arrival order: same end state, never a second alert, nothing the event-time order would not send', () => {
  const sets: Record<string, () => EventSummary[]> = {
    'A01, A03': () => [ev('admit', T(9)), ev('discharge', T(12))],
    'A01, A11': () => [ev('admit', T(9)), ev('cancel-admit', T(10))],
    'A01, A03, A13': () => [ev('admit', T(9)), ev('discharge', T(12)), ev('cancel-discharge', T(13))],
    'A01, resent A01, A02, A08': () => [
      ev('admit', T(9), { location: ward12 }),
      ev('admit', T(9), { location: ward12, messageAt: T(10) }),
      ev('transfer', T(10), { location: ward7 }),
      ev('update', T(11), { expectedDischargeDate: '2026-11-26' }),
    ],
    'A05, A01, A02, A12, A03 (death)': () => [
      ev('pre-admit', T(8)),
      ev('admit', T(9), { location: ward12 }),
      ev('transfer', T(10), { location: ward7 }),
      ev('cancel-transfer', T(11)),
      ev('discharge', T(12), { discharge: { method: '4' } }),
    ],
    'A01, A02, A03, A11': () => [
      ev('admit', T(9)),
      ev('transfer', T(10)),
      ev('discharge', T(11)),
      ev('cancel-admit', T(12)),
    ],
  };

  for (const [name, make] of Object.entries(sets)) {
    it(name, () => {
      const events = make();
      const inOrder = simulate(
        [...events].sort(compareEvents).map((e) => [e]),
        ['P1', 'P2'],
      );
      for (const order of permutations(events)) {
        const r = simulate(
          order.map((e) => [e]),
          ['P1', 'P2'],
        );
        expect(r.status, order.map((e) => e.kind).join(',')).toBe(inOrder.status);
        expect(r.spell).toEqual(inOrder.spell);
        for (const p of ['P1', 'P2']) {
          const mine = r.alerts.filter((a) => a.providerId === p);
          const count = (k: AlertKind) => mine.filter((a) => a.kind === k).length;
          expect(count('admission')).toBeLessThanOrEqual(1);
          expect(count('discharge') + count('death')).toBeLessThanOrEqual(1);
          const reference = inOrder.alerts.filter((a) => a.providerId === p);
          for (const k of ['admission', 'discharge', 'death', 'transfer', 'cancellation'] as const) {
            const label = `${k} alerts after ${order.map((e) => e.kind).join(',')}`;
            expect(count(k), label).toBeLessThanOrEqual(reference.filter((a) => a.kind === k).length);
          }
        }
        // the alerts the status is made of are of the same kinds whatever the order
        const live = (alerts: KnownAlert[]) =>
          alerts
            .filter((a) => a.status !== 'withdrawn' && a.kind !== 'cancellation' && a.kind !== 'transfer')
            .map((a) => `${a.providerId}:${a.kind}`)
            .sort();
        expect(live(r.alerts)).toEqual(live(inOrder.alerts));
      }
    });
  }
});

describe('planProviderAlerts: clinical meaning', () => {
  it('a death learned after the discharge alert: the discharge alert is withdrawn, its contacts told it is replaced, a death alert raised', () => {
    const { alerts, status } = simulate([
      [ev('admit', T(9))],
      [ev('discharge', T(12), { discharge: { destination: '19', destinationCategory: 'home' } })],
      [ev('update', T(13), { deceased: true })],
    ]);
    const discharge = alerts.find((a) => a.kind === 'discharge')!;
    expect(discharge).toMatchObject({ status: 'withdrawn', withdrawnReason: 'superseded-by-death' });
    expect(alerts.filter((a) => a.kind === 'death')).toHaveLength(1);
    expect(alerts.find((a) => a.alertKey.startsWith('discharge-replaced#'))).toMatchObject({ kind: 'cancellation' });
    expect(status).toBe('discharged');
  });

  it('a discharge alert carries its destination category; a death none but died', () => {
    const spell = foldSpell([ev('admit', T(9)), ev('discharge', T(12), { discharge: { destination: '51' } })]);
    expect(planProviderAlerts(spell, [], T(12))).toContainEqual(
      expect.objectContaining({ type: 'raise', kind: 'discharge', destinationCategory: 'hospital' }),
    );
  });

  it('a discharge while a newer stay is open raises no discharge alert and withdraws the admission alert (newer-stay-open)', () => {
    const spell = foldSpell([ev('admit', T(9)), ev('discharge', T(12))]);
    const admission: KnownAlert = {
      alertId: 'a',
      providerId: 'P1',
      alertKey: 'admission#0',
      kind: 'admission',
      status: 'open',
      reached: [],
      coveredMoves: [],
    };
    expect(planProviderAlerts(spell, [admission], T(12), { newerStayOpen: true })).toEqual([
      { type: 'withdraw', alertId: 'a', reason: 'newer-stay-open' },
    ]);
    const died = foldSpell([ev('admit', T(9)), ev('discharge', T(12), { deceased: true })]);
    expect(planProviderAlerts(died, [], T(12), { newerStayOpen: true })).toContainEqual(
      expect.objectContaining({ kind: 'death' }),
    );
  });

  it('a provider no longer matched: every alert withdrawn (wrong-patient), whoever was reached told once', () => {
    const reached = [{ contactId: 'c1', channel: 'webhook' as const }];
    const mine: KnownAlert[] = [
      {
        alertId: 'a',
        providerId: 'P1',
        alertKey: 'admission#0',
        kind: 'admission',
        status: 'acknowledged',
        reached,
        coveredMoves: [],
      },
    ];
    const actions = planWrongPatient(mine, 0, T(12));
    expect(actions).toEqual([
      { type: 'withdraw', alertId: 'a', reason: 'wrong-patient' },
      expect.objectContaining({
        type: 'raise',
        alertKey: 'wrong-patient#0',
        kind: 'cancellation',
        cancels: 'wrong-patient',
        targets: reached,
      }),
    ]);
    expect(
      planWrongPatient(
        [...mine, { ...mine[0]!, alertId: 'w', alertKey: 'wrong-patient#0', kind: 'cancellation' }],
        0,
        T(12),
      ),
    ).toEqual([]);
    expect(planWrongPatient([], 0, T(12))).toEqual([]);
  });
});
