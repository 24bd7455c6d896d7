import { describe, expect, it } from 'vitest';
import { InputError } from '../domain/errors.js';
import { londonWallTimeToUtc, parseHl7Date, parseHl7Timestamp, parseHl7TimestampLenient } from './datetime.js';

describe('parseHl7Timestamp', () => {
  it.each([
    // winter (GMT): local time is UTC
    ['2026', '2026-01-01T00:00:00.000Z'],
    ['202611', '2026-11-01T00:00:00.000Z'],
    ['20261122', '2026-11-22T00:00:00.000Z'],
    ['2026112209', '2026-11-22T09:00:00.000Z'],
    ['202611220920', '2026-11-22T09:20:00.000Z'],
    ['20261122092030', '2026-11-22T09:20:30.000Z'],
    ['20261122092030.1', '2026-11-22T09:20:30.100Z'],
    ['20261122092030.12', '2026-11-22T09:20:30.120Z'],
    ['20261122092030.123', '2026-11-22T09:20:30.123Z'],
    ['20261122092030.1234', '2026-11-22T09:20:30.123Z'],
  ])('reads %s without offset in winter as GMT: %s', (value, iso) => {
    expect(parseHl7Timestamp(value, 'EVN-2')).toBe(iso);
  });

  it.each([
    ['2026+0100', '2025-12-31T23:00:00.000Z'],
    ['202607+0000', '2026-07-01T00:00:00.000Z'],
    ['20260715-0500', '2026-07-15T05:00:00.000Z'],
    ['2026071509+0000', '2026-07-15T09:00:00.000Z'],
    ['202607150920+0100', '2026-07-15T08:20:00.000Z'],
    ['20260715092030-0000', '2026-07-15T09:20:30.000Z'],
    ['20260715092030.5+0530', '2026-07-15T03:50:30.500Z'],
    ['20261122092030.1234+0000', '2026-11-22T09:20:30.123Z'],
  ])('honours an explicit offset: %s is %s', (value, iso) => {
    expect(parseHl7Timestamp(value, 'EVN-2')).toBe(iso);
  });

  it('reads a summer time without offset as BST: UTC is one hour earlier', () => {
    expect(parseHl7Timestamp('20260715092000', 'EVN-2')).toBe('2026-07-15T08:20:00.000Z');
    expect(parseHl7Timestamp('202607', 'EVN-2')).toBe('2026-06-30T23:00:00.000Z');
  });

  it('switches to BST at 01:00 UTC on the last Sunday of March (2026-03-29)', () => {
    expect(parseHl7Timestamp('202603290059', 'X')).toBe('2026-03-29T00:59:00.000Z');
    // 01:00–01:59 local does not exist; read with the offset before the change (GMT)
    expect(parseHl7Timestamp('202603290130', 'X')).toBe('2026-03-29T01:30:00.000Z');
    expect(parseHl7Timestamp('202603290200', 'X')).toBe('2026-03-29T01:00:00.000Z');
    expect(parseHl7Timestamp('202603281200', 'X')).toBe('2026-03-28T12:00:00.000Z');
  });

  it('returns to GMT at 01:00 UTC on the last Sunday of October (2026-10-25), taking the earlier repeated hour', () => {
    expect(parseHl7Timestamp('202610250059', 'X')).toBe('2026-10-24T23:59:00.000Z');
    // 01:30 happens twice (BST then GMT): the earlier instant
    expect(parseHl7Timestamp('202610250130', 'X')).toBe('2026-10-25T00:30:00.000Z');
    expect(parseHl7Timestamp('202610250200', 'X')).toBe('2026-10-25T02:00:00.000Z');
  });

  it('agrees with the platform time-zone database around every UK clock change from 1996 to 2040', () => {
    const fmt = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/London',
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    const wallOf = (t: number): string => {
      const p = Object.fromEntries(fmt.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
      return `${p.year}${p.month}${p.day}${p.hour}${p.minute}`;
    };
    const mismatches: string[] = [];
    for (let year = 1996; year <= 2040; year++) {
      for (const month of [3, 10]) {
        for (let day = 25; day <= 31; day++) {
          for (let minutes = 0; minutes < 4 * 60; minutes += 30) {
            const t = Date.UTC(year, month - 1, day, 0, minutes);
            const wall = wallOf(t);
            // every instant's local wall time maps back to an instant with that same wall time
            const back = Date.parse(parseHl7Timestamp(wall, 'X') ?? '');
            if (wallOf(back) !== wall) mismatches.push(wall);
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('uses the time-zone database before 1996 (1990 changed on 28 October, not the last Sunday)', () => {
    expect(parseHl7Timestamp('199010211200', 'X')).toBe('1990-10-21T11:00:00.000Z');
    expect(parseHl7Timestamp('199010281200', 'X')).toBe('1990-10-28T12:00:00.000Z');
    expect(londonWallTimeToUtc(Date.UTC(1985, 6, 1, 12), 1985)).toBe(Date.UTC(1985, 6, 1, 11));
  });

  it('returns undefined for an empty value, and reads only TS.1 of value^precision', () => {
    expect(parseHl7Timestamp('', 'EVN-2')).toBeUndefined();
    expect(parseHl7Timestamp('  ', 'EVN-2')).toBeUndefined();
    expect(parseHl7Timestamp('20261122^D', 'EVN-2')).toBe('2026-11-22T00:00:00.000Z');
  });

  it.each([
    '20261322',
    '20260230',
    '20250229',
    '2026112225',
    '202611220960',
    '20261122092061',
    'abcd',
    '2026-11-22',
    '20261122092030.12345',
    '20261122+01',
    '2026112209+2500',
    '0000',
  ])('rejects %s with bad-date naming the field', (value) => {
    let caught: unknown;
    try {
      parseHl7Timestamp(value, 'PV1-44');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect(caught).toMatchObject({ code: 'bad-date', location: 'PV1-44' });
    expect(parseHl7Timestamp(value)).toBeUndefined();
    expect(parseHl7TimestampLenient(value)).toBeUndefined();
  });

  it('accepts 29 February in a leap year', () => {
    expect(parseHl7Timestamp('20240229', 'X')).toBe('2024-02-29T00:00:00.000Z');
  });
});

describe('parseHl7Date', () => {
  it('reads the first eight digits as YYYY-MM-DD, whatever time or offset follows', () => {
    expect(parseHl7Date('19410312', 'PID-7')).toBe('1941-03-12');
    expect(parseHl7Date('194103120000', 'PID-7')).toBe('1941-03-12');
    expect(parseHl7Date('19410312235959+0100', 'PID-7')).toBe('1941-03-12');
  });

  it('returns undefined for empty or year/month-only values (too imprecise to be a day)', () => {
    expect(parseHl7Date('', 'PID-7')).toBeUndefined();
    expect(parseHl7Date('1941', 'PID-7')).toBeUndefined();
    expect(parseHl7Date('194103', 'PID-7')).toBeUndefined();
  });

  it.each(['19411312', '19410230', '1941031X', 'unknown'])('rejects %s with bad-date naming the field', (value) => {
    expect(() => parseHl7Date(value, 'PV2-9')).toThrow(
      expect.objectContaining({ code: 'bad-date', location: 'PV2-9' }),
    );
    expect(parseHl7Date(value)).toBeUndefined();
  });
});
