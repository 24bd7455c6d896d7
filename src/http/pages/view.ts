import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import nunjucks from 'nunjucks';
import type { AckOutcome, AlertKind } from '../../domain/admission-event.js';
import { eventWords, type AlertMeaning } from '../../domain/alert-text.js';
import { NHSUK_FRONTEND_DIST } from './assets.js';

/** Folder of this module's templates (`layout.njk` extends nhsuk-frontend's `nhsuk/template.njk`). */
export const TEMPLATES_DIR = fileURLToPath(new URL('./templates', import.meta.url));

/**
 * A nunjucks environment for pages for people (by default the acknowledgement pages' templates; the portal passes
 * its own folders): autoescaping on, looking up those templates first, then
 * nhsuk-frontend's (`nhsuk/template.njk`, `nhsuk/components/<name>/macro.njk`; its own templates also `extends
 * "template.njk"`, hence `dist/nhsuk` too). Templates are compiled once and cached.
 */
export function createViewEnvironment(templateDirs: readonly string[] = [TEMPLATES_DIR]): nunjucks.Environment {
  const loader = new nunjucks.FileSystemLoader(
    [...templateDirs, NHSUK_FRONTEND_DIST, join(NHSUK_FRONTEND_DIST, 'nhsuk')],
    { noCache: false, watch: false },
  );
  return new nunjucks.Environment(loader, {
    autoescape: true,
    throwOnUndefined: false,
    trimBlocks: true,
    lstripBlocks: true,
  });
}

/** The outcomes a coordinator can record, in the order the page lists them (CONTRACT.md acknowledge `outcome`). */
export const OUTCOMES: readonly { value: AckOutcome; label: string; hint: string }[] = [
  {
    value: 'visits-paused',
    label: 'Visits paused',
    hint: 'We have paused home care visits while they are in hospital.',
  },
  { value: 'visits-resumed', label: 'Visits resumed', hint: 'Home care visits are starting again.' },
  { value: 'not-our-client', label: 'Not our client', hint: 'This person does not receive care from us.' },
  { value: 'noted', label: 'Noted', hint: 'We have seen this alert. No change to visits.' },
  {
    value: 'care-ended',
    label: 'Care ended',
    hint: 'We have stopped home care for this person.',
  },
];

export function isAckOutcome(value: unknown): value is AckOutcome {
  return OUTCOMES.some((o) => o.value === value);
}

export function outcomeLabel(outcome: AckOutcome): string {
  return OUTCOMES.find((o) => o.value === outcome)?.label ?? outcome;
}

/** What happened, for the `<h1>` and `<title>`. */
export function kindHeading(kind: AlertKind, meaning: AlertMeaning = {}): string {
  switch (kind) {
    case 'admission':
      return 'Client admitted to hospital';
    case 'discharge':
      switch (meaning.destinationCategory ?? 'unknown') {
        case 'home':
          return 'Client discharged home';
        case 'care-home':
          return 'Client discharged to a care home or hospice';
        case 'hospital':
          return 'Client moved to another hospital';
        case 'died':
          return 'Client reported to have died in hospital';
        case 'unknown':
          return 'Client discharged: destination not known';
      }
      break;
    case 'death':
      return 'Client reported to have died in hospital';
    case 'cancellation':
      switch (meaning.cancels) {
        case 'discharge':
          return 'Hospital discharge cancelled';
        case 'wrong-patient':
          return 'Earlier alert sent in error';
        case 'replaced-by-death':
          return 'Earlier discharge alert replaced';
        case 'admission':
        case null:
        case undefined:
          return 'Hospital admission cancelled';
      }
      break;
    case 'transfer':
      return 'Client moved ward';
  }
}

/**
 * What happened, in one plain-English sentence, from the alert's codes (src/domain/alert-text.ts). No patient name
 * or NHS number: the link may be forwarded.
 */
export function kindSentence(
  kind: AlertKind,
  providerName: string,
  hospitalName: string,
  meaning: AlertMeaning = {},
): string {
  switch (kind) {
    case 'admission':
      return `A client of ${providerName} was admitted to ${hospitalName}.`;
    case 'cancellation':
      if (meaning.cancels === 'discharge') {
        return `${hospitalName} cancelled the discharge of a client of ${providerName}: they are still in hospital, so visits should not resume yet.`;
      }
      if (meaning.cancels === 'admission' || !meaning.cancels) {
        return `${hospitalName} cancelled the admission of a client of ${providerName}.`;
      }
      return `A client of ${providerName} was ${eventWords(kind, meaning)} (${hospitalName}).`;
    case 'transfer':
      return `A client of ${providerName} moved to a different ward at ${hospitalName}.`;
    case 'discharge':
    case 'death':
      return `A client of ${providerName} was ${eventWords(kind, meaning)} (${hospitalName}).`;
  }
}

const LONDON = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  weekday: 'long',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
  hourCycle: 'h12',
});

/**
 * An ISO instant as UK people read it, in UK time, NHS style: "Sunday 22 November 2026 at 9:20am" ("midday",
 * "midnight" for 12:00).
 * Returns the input unchanged when it is not a date.
 */
export function formatDateTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const parts = LONDON.formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  const dayPeriod = part('dayPeriod').toLowerCase().replace(/\./g, '').replace(/\s/g, '');
  const hour = part('hour');
  const minute = part('minute');
  let time = minute === '00' ? `${hour}${dayPeriod}` : `${hour}:${minute}${dayPeriod}`;
  if (hour === '12' && minute === '00') time = dayPeriod === 'pm' ? 'midday' : 'midnight';
  return `${part('weekday')} ${part('day')} ${part('month')} ${part('year')} at ${time}`;
}
