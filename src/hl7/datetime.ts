/**
 * HL7 v2 date/time values (TS / DTM, HL7 v2.5 section 2A.22): `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
 * A value without an offset is local time of the sender; every sender here is in England, so that means
 * Europe/London (GMT in winter, BST = UTC+1 from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
 * Sunday of October).
 */
import { InputError } from '../domain/errors.js';

const DTM =
  /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?(?:([+-])(\d{2})(\d{2}))?$/;

const HOUR = 3_600_000;

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  /** explicit offset east of UTC in minutes, when sent */
  offsetMinutes?: number;
  /** how many of YYYY, MM, DD were sent: 1, 2 or 3 */
  datePrecision: 1 | 2 | 3;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Date.UTC that also means years 0..99 literally. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  const d = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  d.setUTCFullYear(year);
  return d.getTime();
}

/** Splits and range-checks an HL7 date/time; undefined when it is not one. */
function parseParts(value: string): Parts | undefined {
  const m = DTM.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, sign, oh, om] = m;
  const year = Number(y);
  const month = mo === undefined ? 1 : Number(mo);
  const day = d === undefined ? 1 : Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000 + 1e-6);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const parts: Parts = {
    year,
    month,
    day,
    hour,
    minute,
    second,
    ms,
    datePrecision: d !== undefined ? 3 : mo !== undefined ? 2 : 1,
  };
  if (sign !== undefined) {
    const offH = Number(oh);
    const offM = Number(om);
    if (offH > 14 || offM > 59) return undefined;
    parts.offsetMinutes = (sign === '-' ? -1 : 1) * (offH * 60 + offM);
  }
  return parts;
}

/** 01:00 UTC on the last Sunday of `month` (3 or 10) of `year`: when UK clocks change (since 1996). */
function lastSunday0100Utc(year: number, month: 3 | 10): number {
  const lastDay = new Date(utc(year, month, 31));
  const back = lastDay.getUTCDay(); // 0 = Sunday
  return utc(year, month, 31 - back, 1);
}

const londonParts = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** Europe/London's offset from UTC in ms at instant `t`, from the platform's time-zone database. */
function londonOffsetFromTzdb(t: number): number {
  const p: Record<string, number> = {};
  for (const { type, value } of londonParts.formatToParts(new Date(t))) p[type] = Number(value);
  const wall = utc(p.year ?? 0, p.month ?? 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0);
  return wall - (t - (((t % 1000) + 1000) % 1000));
}

/**
 * The UTC instant of a Europe/London wall-clock time given as if it were UTC (`wall`).
 *
 * At the spring change the hour 01:00–01:59 does not exist; such a time is read with the offset in force before
 * the change (GMT), i.e. 01:30 means 01:30Z (= 02:30 BST). At the autumn change 01:00–01:59 happens twice; the
 * earlier (BST) reading is taken, i.e. 01:30 means 00:30Z. This is what RFC 5545 and Temporal's `compatible`
 * disambiguation do.
 */
export function londonWallTimeToUtc(wall: number, year: number): number {
  if (year >= 1996) {
    // EU rule, in force in the UK since 1996: BST for wall times in [last Sun Mar 02:00, last Sun Oct 02:00)
    const bstFromWall = lastSunday0100Utc(year, 3) + HOUR; // 02:00 local on the spring change day
    const bstUntilWall = lastSunday0100Utc(year, 10) + HOUR; // 02:00 local (BST) on the autumn change day
    return wall >= bstFromWall && wall < bstUntilWall ? wall - HOUR : wall;
  }
  // earlier rules varied year to year: ask the time-zone database, with the same disambiguation
  const before = londonOffsetFromTzdb(wall - 3 * HOUR);
  const after = londonOffsetFromTzdb(wall + 3 * HOUR);
  if (before === after) return wall - before;
  const asBefore = wall - before;
  const asAfter = wall - after;
  const validBefore = londonOffsetFromTzdb(asBefore) === before;
  const validAfter = londonOffsetFromTzdb(asAfter) === after;
  if (validBefore && validAfter) return Math.min(asBefore, asAfter); // repeated hour: the earlier instant
  if (validBefore) return asBefore;
  if (validAfter) return asAfter;
  return asBefore; // skipped hour: the offset before the change
}

function toInstant(p: Parts): string {
  const wall = utc(p.year, p.month, p.day, p.hour, p.minute, p.second, p.ms);
  const t = p.offsetMinutes !== undefined ? wall - p.offsetMinutes * 60_000 : londonWallTimeToUtc(wall, p.year);
  return new Date(t).toISOString();
}

/**
 * An HL7 TS/DTM value as an ISO 8601 UTC instant (`2026-11-22T09:20:00.000Z`), or undefined for an empty value.
 * Every precision from `YYYY` to `YYYYMMDDHHMMSS.SSSS` is accepted (missing parts are the start of the period),
 * with or without a `+ZZZZ`/`-ZZZZ` offset; no offset means Europe/London local time. Only the first component
 * is read if a whole TS (`value^precision`) is passed.
 *
 * With `field` (e.g. `EVN-2`): an invalid value throws `InputError('bad-date', …, field)`.
 * Without it: lenient, an invalid value is undefined (see {@link parseHl7TimestampLenient}).
 */
export function parseHl7Timestamp(value: string): string | undefined;
export function parseHl7Timestamp(value: string, field: string): string | undefined;
export function parseHl7Timestamp(value: string, field?: string): string | undefined {
  const v = firstComponent(value);
  if (v === '') return undefined;
  const parts = parseParts(v);
  if (!parts) {
    if (field === undefined) return undefined;
    throw new InputError('bad-date', `${field} is not an HL7 date/time (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ])`, field);
  }
  return toInstant(parts);
}

/** Like {@link parseHl7Timestamp} but never throws: undefined for an empty or invalid value. */
export function parseHl7TimestampLenient(value: string): string | undefined {
  return parseHl7Timestamp(value);
}

/**
 * An HL7 date (DT, or the date part of a TS, e.g. PID-7 date of birth, PV2-9) as `YYYY-MM-DD`, from its first
 * eight digits; undefined when empty or when only a year or year and month were sent (a valid value too
 * imprecise to be a day). The whole value must still be a well-formed HL7 date/time. No time-zone conversion:
 * a date of birth is a calendar date.
 *
 * With `field`: an invalid value throws `InputError('bad-date', …, field)`; without it: undefined.
 */
export function parseHl7Date(value: string): string | undefined;
export function parseHl7Date(value: string, field: string): string | undefined;
export function parseHl7Date(value: string, field?: string): string | undefined {
  const v = firstComponent(value);
  if (v === '') return undefined;
  const parts = parseParts(v);
  if (!parts) {
    if (field === undefined) return undefined;
    throw new InputError('bad-date', `${field} is not an HL7 date (YYYYMMDD)`, field);
  }
  if (parts.datePrecision < 3) return undefined;
  return `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}`;
}

/** The TS.1 part of a value that may carry a TS.2 degree of precision (`20261122^D`, v2.2–2.5). */
function firstComponent(value: string): string {
  const caret = value.indexOf('^');
  return (caret === -1 ? value : value.slice(0, caret)).trim();
}
