import { describe, expect, it } from 'vitest';
import { InputError } from '../domain/errors.js';
import { acceptedOutcome, INPUT_ERROR_CODE_SYSTEM, operationOutcome, outcomeForInputError } from './outcome.js';

describe('OperationOutcome', () => {
  it('an accepted Encounter is answered with one informational issue', () => {
    expect(acceptedOutcome('Stored: admission RX1/V000123')).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'information', code: 'informational', diagnostics: 'Stored: admission RX1/V000123' }],
    });
  });

  it('a missing spell number is a "required" error pointing at Encounter.identifier and naming the code', () => {
    const outcome = outcomeForInputError(
      new InputError('no-visit-number', 'Encounter.identifier needs the spell number', 'Encounter.identifier'),
    );
    expect(outcome).toEqual({
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'required',
          diagnostics: 'Encounter.identifier needs the spell number',
          expression: ['Encounter.identifier'],
          details: { coding: [{ system: INPUT_ERROR_CODE_SYSTEM, code: 'no-visit-number' }], text: 'no-visit-number' },
        },
      ],
    });
  });

  it.each([
    ['bad-date', 'value'],
    ['invalid', 'invalid'],
    ['sender-mismatch', 'forbidden'],
    ['unsupported-message-type', 'not-supported'],
    ['no-patient-identifier', 'required'],
  ] as const)('InputError %s becomes issue type %s', (code, type) => {
    const issue = outcomeForInputError(new InputError(code, 'x')).issue[0];
    expect(issue?.code).toBe(type);
    expect(issue?.expression).toBeUndefined();
  });

  it('builds several issues as given, omitting empty expressions', () => {
    const outcome = operationOutcome([
      { severity: 'error', code: 'conflict', diagnostics: 'same id, different content' },
      { severity: 'warning', code: 'processing', diagnostics: 'unmatched', expression: [] },
    ]);
    expect(outcome.issue).toEqual([
      { severity: 'error', code: 'conflict', diagnostics: 'same id, different content' },
      { severity: 'warning', code: 'processing', diagnostics: 'unmatched' },
    ]);
  });
});
