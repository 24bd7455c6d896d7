/** The escalation ladder editor's form: what a provider admin types becomes the policy the API validates. */
import { describe, expect, it } from 'vitest';
import {
  applyLadderAction,
  draftFromPolicy,
  draftToPolicy,
  formErrorsOf,
  minutesText,
  readLadderForm,
  type LadderDraft,
} from './ladder-form.js';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const contacts = [
  { id: A, phone: '+447700900001', email: null, webhookUrl: null },
  { id: B, phone: null, email: 'b@example.org', webhookUrl: null },
];

describe('the ladder form', () => {
  it('reads a submitted form into the policy body, minutes becoming seconds', () => {
    const { draft, action } = readLadderForm({
      steps: '2',
      'step-1-contacts': A,
      'step-1-channels': ['sms', 'email'],
      'step-1-wait': ' 15 ',
      'step-2-contacts': [A, B],
      'step-2-channels': 'email',
      'step-2-wait': '60',
      repeat: '1',
      action: 'save',
    });
    expect(action).toEqual({ kind: 'save' });
    expect(draftToPolicy(draft, contacts)).toEqual({
      ok: true,
      policy: {
        steps: [
          { contactIds: [A], channels: ['sms', 'email'], waitSeconds: 900 },
          { contactIds: [A, B], channels: ['email'], waitSeconds: 3600 },
        ],
        repeat: 1,
      },
    });
  });

  it('shows a stored policy in minutes and saves it back unchanged, a wait of seconds included', () => {
    const policy = {
      steps: [
        { contactIds: [A], channels: ['sms' as const], waitSeconds: 600 },
        { contactIds: [B], channels: ['email' as const], waitSeconds: 10 },
      ],
      repeat: 2,
    };
    const draft = draftFromPolicy(policy);
    expect(draft.steps.map((s) => s.waitMinutes)).toEqual(['10', '0.17']);
    const form = {
      steps: '2',
      'step-1-contacts': A,
      'step-1-channels': 'sms',
      'step-1-wait': '10',
      'step-1-wait-seconds': '600',
      'step-2-contacts': B,
      'step-2-channels': 'email',
      'step-2-wait': '0.17',
      'step-2-wait-seconds': '10',
      repeat: '2',
    };
    expect(draftToPolicy(readLadderForm(form).draft, contacts)).toEqual({ ok: true, policy });
    // a changed wait must then be whole minutes
    const changed = readLadderForm({ ...form, 'step-2-wait': '0.5' }).draft;
    expect(draftToPolicy(changed, contacts)).toEqual({
      ok: false,
      errors: [
        {
          field: 'step-2-wait',
          message: 'Enter the wait for step 2 as a whole number of minutes, from 1 to 10080 (7 days)',
        },
      ],
    });
    expect(minutesText(90)).toBe('1.5');
    expect(draftFromPolicy(undefined)).toEqual({
      steps: [{ contactIds: [], channels: [], waitMinutes: '15' }],
      repeat: '0',
    });
  });

  it('names every problem on its input: no people, no way to contact them, a bad wait, a bad repeat', () => {
    const draft: LadderDraft = {
      steps: [
        { contactIds: [], channels: [], waitMinutes: '0' },
        { contactIds: [B], channels: ['sms'], waitMinutes: '10081' }, // B has no mobile number
        { contactIds: [A], channels: ['sms'], waitMinutes: 'ten' },
      ],
      repeat: '11',
    };
    expect(draftToPolicy(draft, contacts)).toEqual({
      ok: false,
      errors: [
        { field: 'step-1-contacts', message: 'Select at least one person to contact in step 1' },
        { field: 'step-1-channels', message: 'Select how to contact people in step 1' },
        {
          field: 'step-1-wait',
          message: 'Enter the wait for step 1 as a whole number of minutes, from 1 to 10080 (7 days)',
        },
        {
          field: 'step-2-contacts',
          message: 'Step 2 would reach nobody: none of its people has an address for the ways chosen',
        },
        {
          field: 'step-2-wait',
          message: 'Enter the wait for step 2 as a whole number of minutes, from 1 to 10080 (7 days)',
        },
        {
          field: 'step-3-wait',
          message: 'Enter the wait for step 3 as a whole number of minutes, from 1 to 10080 (7 days)',
        },
        { field: 'repeat', message: 'Enter how many more times to run the ladder, from 0 to 10' },
      ],
    });
    expect(draftToPolicy({ steps: [], repeat: '0' }, contacts)).toEqual({
      ok: false,
      errors: [{ field: 'add-step', message: 'Add at least one step' }],
    });
  });

  it('reads which button was pressed; anything unknown (Enter in a text box included) is save', () => {
    const base = { steps: '3' };
    expect(readLadderForm({ ...base, action: 'add' }).action).toEqual({ kind: 'add' });
    expect(readLadderForm({ ...base, action: 'up-2' }).action).toEqual({ kind: 'up', step: 1 });
    expect(readLadderForm({ ...base, action: 'down-3' }).action).toEqual({ kind: 'down', step: 2 });
    expect(readLadderForm({ ...base, action: 'remove-1' }).action).toEqual({ kind: 'remove', step: 0 });
    expect(readLadderForm({ ...base, action: 'remove-4' }).action).toEqual({ kind: 'save' });
    expect(readLadderForm({ ...base, action: 'drop' }).action).toEqual({ kind: 'save' });
    expect(readLadderForm(base).action).toEqual({ kind: 'save' });
    // a channel that is not one of the three is dropped; a contact ticked twice counts once
    const { draft } = readLadderForm({ steps: '1', 'step-1-contacts': [A, A], 'step-1-channels': ['fax', 'sms'] });
    expect(draft.steps[0]).toMatchObject({ contactIds: [A], channels: ['sms'] });
  });

  it('adds a step at the end, moves steps up and down, removes them, keeping what was typed', () => {
    const step = (w: string) => ({ contactIds: [A], channels: ['sms' as const], waitMinutes: w });
    const draft: LadderDraft = { steps: [step('1'), step('2'), step('3')], repeat: '0' };
    const waits = (d: LadderDraft) => d.steps.map((s) => s.waitMinutes);
    expect(waits(applyLadderAction(draft, { kind: 'up', step: 2 }).draft)).toEqual(['1', '3', '2']);
    expect(applyLadderAction(draft, { kind: 'up', step: 2 }).focus).toBe(1);
    expect(waits(applyLadderAction(draft, { kind: 'down', step: 0 }).draft)).toEqual(['2', '1', '3']);
    expect(waits(applyLadderAction(draft, { kind: 'up', step: 0 }).draft)).toEqual(['1', '2', '3']);
    expect(waits(applyLadderAction(draft, { kind: 'down', step: 2 }).draft)).toEqual(['1', '2', '3']);
    expect(waits(applyLadderAction(draft, { kind: 'remove', step: 1 }).draft)).toEqual(['1', '3']);
    const added = applyLadderAction(draft, { kind: 'add' });
    expect(added.draft.steps[3]).toEqual({ contactIds: [], channels: [], waitMinutes: '15' });
    expect(added.focus).toBe(3);
    expect(draft.steps).toHaveLength(3); // the draft given is not changed
    const full: LadderDraft = { steps: Array.from({ length: 20 }, () => step('1')), repeat: '0' };
    expect(applyLadderAction(full, { kind: 'add' }).draft.steps).toHaveLength(20);
  });

  it("turns the API's problems into problems on the step's inputs", () => {
    expect(
      formErrorsOf([
        { field: 'steps.1.contactIds', message: `unknown contact ${A} (not a contact of this provider)` },
        { field: 'steps.0.waitSeconds', message: 'must be at least 1 second' },
      ]),
    ).toEqual([
      { field: 'step-2-contacts', message: 'Step 2 names a person who is no longer a contact: choose again' },
      { field: 'step-1-wait', message: 'Step 1: must be at least 1 second' },
    ]);
  });
});
