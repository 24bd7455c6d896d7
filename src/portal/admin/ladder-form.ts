/**
 * The escalation ladder editor's form (portal, provider admin), without JavaScript: every button submits the whole
 * form, so unsaved edits survive adding, moving and removing steps; only "Save" sets the policy, through the same
 * rules as `PUT /v1/providers/{id}/escalation-policy` (src/registry/escalation-policy.ts). Waits are shown and typed
 * in minutes and stored in seconds. Pure: no I/O.
 *
 * Field names (steps numbered from 1, as people read them): `steps` (how many), `step-N-contacts` and
 * `step-N-channels` (checkboxes), `step-N-wait` (minutes), `step-N-wait-seconds` (the stored wait, hidden, so a wait
 * that is not whole minutes survives a save untouched), `repeat`, and the pressed button's `action`: `save`, `add`,
 * `up-N`, `down-N`, `remove-N`.
 */
import type { Channel } from '../../domain/admission-event.js';
import type { EscalationPolicy } from '../../domain/escalation.js';
import { MAX_REPEAT, MAX_STEPS, MAX_WAIT_SECONDS } from '../../registry/escalation-policy.js';
import type { FieldError } from '../../registry/validation.js';

export const CHANNELS: readonly { value: Channel; label: string }[] = [
  { value: 'sms', label: 'Text message (SMS)' },
  { value: 'email', label: 'Email' },
  { value: 'webhook', label: 'Webhook (your own system)' },
];

export const MAX_WAIT_MINUTES = MAX_WAIT_SECONDS / 60;
/** The wait a new step starts with. */
export const DEFAULT_WAIT_MINUTES = 15;

/** One step as the form holds it: the wait as typed, so a wrong value is shown back to be corrected. */
export interface DraftStep {
  contactIds: string[];
  channels: Channel[];
  waitMinutes: string;
  /** the stored wait this step was shown with, kept while `waitMinutes` still shows it */
  waitSeconds?: number;
}

export interface LadderDraft {
  steps: DraftStep[];
  repeat: string;
}

export type LadderAction =
  | { kind: 'save' }
  | { kind: 'add' }
  | { kind: 'up' | 'down' | 'remove'; step: number /* 0-based */ };

/** A form problem: `field` is the id of the input it is about (for the error summary's link). */
export type FormError = FieldError;

/** A wait in seconds as minutes for the form: whole minutes as they are, else to two decimal places. */
export function minutesText(seconds: number): string {
  return seconds % 60 === 0 ? String(seconds / 60) : String(Math.round((seconds / 60) * 100) / 100);
}

function newStep(): DraftStep {
  return { contactIds: [], channels: [], waitMinutes: String(DEFAULT_WAIT_MINUTES) };
}

/** The form for a stored policy; with none, one empty step to fill in. */
export function draftFromPolicy(policy: EscalationPolicy | undefined): LadderDraft {
  if (!policy) return { steps: [newStep()], repeat: '0' };
  return {
    steps: policy.steps.map((s) => ({
      contactIds: [...s.contactIds],
      channels: [...s.channels],
      waitMinutes: minutesText(s.waitSeconds),
      waitSeconds: s.waitSeconds,
    })),
    repeat: String(policy.repeat),
  };
}

type FormBody = Record<string, unknown>;

function values(body: FormBody, name: string): string[] {
  const v = body[name];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

function value(body: FormBody, name: string): string {
  return values(body, name)[0] ?? '';
}

/** The submitted form as a draft, and which button was pressed (anything unknown counts as `save`). */
export function readLadderForm(body: FormBody): { draft: LadderDraft; action: LadderAction } {
  const count = Math.min(Math.max(Number.parseInt(value(body, 'steps'), 10) || 0, 0), MAX_STEPS);
  const steps: DraftStep[] = [];
  for (let n = 1; n <= count; n++) {
    const stored = Number(value(body, `step-${n}-wait-seconds`));
    const step: DraftStep = {
      contactIds: [...new Set(values(body, `step-${n}-contacts`))],
      channels: CHANNELS.map((c) => c.value).filter((c) => values(body, `step-${n}-channels`).includes(c)),
      waitMinutes: value(body, `step-${n}-wait`).trim(),
    };
    if (Number.isInteger(stored) && stored > 0) step.waitSeconds = stored;
    steps.push(step);
  }
  const draft = { steps, repeat: value(body, 'repeat').trim() };
  const pressed = /^(add|save|up|down|remove)(?:-(\d+))?$/.exec(value(body, 'action'));
  const n = Number(pressed?.[2]) - 1;
  let action: LadderAction = { kind: 'save' };
  if (pressed?.[1] === 'add') action = { kind: 'add' };
  else if ((pressed?.[1] === 'up' || pressed?.[1] === 'down' || pressed?.[1] === 'remove') && n >= 0 && n < count) {
    action = { kind: pressed[1], step: n };
  }
  return { draft, action };
}

/**
 * The draft after adding a step (at the end, at most MAX_STEPS), moving one up or down, or removing one; and the
 * step (0-based) to bring into view afterwards, or undefined.
 */
export function applyLadderAction(
  draft: LadderDraft,
  action: Exclude<LadderAction, { kind: 'save' }>,
): { draft: LadderDraft; focus: number | undefined } {
  const steps = [...draft.steps];
  switch (action.kind) {
    case 'add':
      if (steps.length >= MAX_STEPS) return { draft, focus: steps.length - 1 };
      steps.push(newStep());
      return { draft: { ...draft, steps }, focus: steps.length - 1 };
    case 'remove':
      steps.splice(action.step, 1);
      return {
        draft: { ...draft, steps },
        focus: steps.length === 0 ? undefined : Math.min(action.step, steps.length - 1),
      };
    case 'up':
    case 'down': {
      const to = action.kind === 'up' ? action.step - 1 : action.step + 1;
      if (to < 0 || to >= steps.length) return { draft, focus: action.step };
      [steps[action.step], steps[to]] = [steps[to]!, steps[action.step]!];
      return { draft: { ...draft, steps }, focus: to };
    }
  }
}

/** A contact as the editor needs it: which channels can reach it. */
export interface ReachableContact {
  id: string;
  phone: string | null;
  email: string | null;
  webhookUrl: string | null;
}

function reaches(contact: ReachableContact, channel: Channel): boolean {
  switch (channel) {
    case 'sms':
      return contact.phone !== null;
    case 'email':
      return contact.email !== null;
    case 'webhook':
      return contact.webhookUrl !== null;
  }
}

/**
 * The policy the draft stands for (the body `PUT /v1/providers/{id}/escalation-policy` takes), or the problems, each
 * naming its input. Besides the API's rules, a step that can reach nobody (no chosen contact has an address for any
 * chosen channel: a text message to people without a mobile number) is refused: nobody the admin meant to tell
 * in that step would be told (the service skips such a step at once).
 */
export function draftToPolicy(
  draft: LadderDraft,
  contacts: readonly ReachableContact[],
): { ok: true; policy: EscalationPolicy } | { ok: false; errors: FormError[] } {
  const errors: FormError[] = [];
  if (draft.steps.length === 0) errors.push({ field: 'add-step', message: 'Add at least one step' });
  const byId = new Map(contacts.map((c) => [c.id, c]));
  const steps = draft.steps.map((s, i) => {
    const n = i + 1;
    if (s.contactIds.length === 0) {
      errors.push({ field: `step-${n}-contacts`, message: `Select at least one person to contact in step ${n}` });
    }
    if (s.channels.length === 0) {
      errors.push({ field: `step-${n}-channels`, message: `Select how to contact people in step ${n}` });
    }
    if (
      s.contactIds.length > 0 &&
      s.channels.length > 0 &&
      !s.contactIds.some((id) => s.channels.some((ch) => byId.has(id) && reaches(byId.get(id)!, ch)))
    ) {
      errors.push({
        field: `step-${n}-contacts`,
        message: `Step ${n} would reach nobody: none of its people has an address for the ways chosen`,
      });
    }
    let waitSeconds = Number.NaN;
    if (s.waitSeconds !== undefined && s.waitMinutes === minutesText(s.waitSeconds)) waitSeconds = s.waitSeconds;
    else if (/^\d+$/.test(s.waitMinutes)) waitSeconds = Number(s.waitMinutes) * 60;
    if (!(waitSeconds >= 1 && waitSeconds <= MAX_WAIT_SECONDS)) {
      errors.push({
        field: `step-${n}-wait`,
        message: `Enter the wait for step ${n} as a whole number of minutes, from 1 to ${MAX_WAIT_MINUTES} (7 days)`,
      });
    }
    return { contactIds: s.contactIds, channels: s.channels, waitSeconds };
  });
  const repeat = /^\d+$/.test(draft.repeat) ? Number(draft.repeat) : Number.NaN;
  if (!(repeat >= 0 && repeat <= MAX_REPEAT)) {
    errors.push({ field: 'repeat', message: `Enter how many more times to run the ladder, from 0 to ${MAX_REPEAT}` });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, policy: { steps, repeat } };
}

/**
 * The API's problems with a policy (src/registry/escalation-policy.ts: `steps.0.contactIds: unknown contact …`) as
 * form problems: each on its step's input, in words for people.
 */
export function formErrorsOf(apiErrors: readonly FieldError[]): FormError[] {
  return apiErrors.map((e) => {
    const m = /^steps\.(\d+)\.(contactIds|channels|waitSeconds)/.exec(e.field);
    if (!m) return { field: e.field === 'repeat' ? 'repeat' : 'add-step', message: `The ladder ${e.message}` };
    const n = Number(m[1]) + 1;
    const input = m[2] === 'contactIds' ? 'contacts' : m[2] === 'channels' ? 'channels' : 'wait';
    const message = e.message.startsWith('unknown contact')
      ? `Step ${n} names a person who is no longer a contact: choose again`
      : `Step ${n}: ${e.message}`;
    return { field: `step-${n}-${input}`, message };
  });
}
