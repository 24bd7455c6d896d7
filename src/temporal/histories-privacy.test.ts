/**
 * Temporal keeps every workflow input, signal, activity result and memo in its histories, and shows them in its Web
 * UI (docs/security/threat-model.md, E9). The workflows are built to carry ids, codes, times and locations there,
 * never a patient's name, NHS number or date of birth: this reads every payload of the recorded histories (real runs
 * of the service, test/histories/*.json) and fails on any of those.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../test/histories/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

/**
 * Every base64 `data` field of a history's payloads, decoded. A local activity's marker carries its times as epoch
 * seconds (`"complete_time":{"seconds":1796222537,...}`): ten digits that are a time, not an NHS number, left out.
 */
function payloads(json: string): string[] {
  return [...json.matchAll(/"data"\s*:\s*"([A-Za-z0-9+/=]+)"/g)].map((m) =>
    Buffer.from(m[1]!, 'base64')
      .toString('utf8')
      .replace(/"seconds":\d+,"nanos"/g, '"seconds":0,"nanos"'),
  );
}

/** The fixture patients' names (test/fixtures/hl7), and the shapes of NHS numbers and patient fields. */
const FORBIDDEN: [string, RegExp][] = [
  // ten digits standing alone (not inside a UUID or another identifier)
  ['an NHS number', /(?<![0-9A-Za-z-])\d{3} ?\d{3} ?\d{4}(?![0-9A-Za-z-])/],
  ['a patient name field', /"(familyName|givenName|patientName)"/],
  ['a date of birth field', /"(dateOfBirth|birthDate)"/],
  ['an NHS number field', /"nhsNumber"/],
  ['a fixture patient name', /SMITH|MARGARET|JONES|ARTHUR|BROWN|ELSIE|TAYLOR/i],
];

describe('recorded workflow histories carry no patient data', () => {
  it('there are recorded histories to look at, and the check would see patient data', () => {
    expect(files.length).toBeGreaterThan(5);
    const leaky = [
      '{"nhs":"999 526 0182"}',
      '{"seconds":"9995260182"}',
      '{"familyName":"X"}',
      '{"dateOfBirth":"1941-03-12"}',
      '"SMITH^MARGARET"',
    ];
    for (const text of leaky)
      expect(
        FORBIDDEN.some(([, p]) => p.test(text)),
        text,
      ).toBe(true);
  });

  it.each(files)('%s', (file) => {
    const decoded = payloads(readFileSync(new URL(file, dir), 'utf8'));
    expect(decoded.length).toBeGreaterThan(0);
    for (const text of decoded) {
      for (const [what, pattern] of FORBIDDEN) {
        expect(pattern.test(text), `${what} in a payload of ${file}: ${text.slice(0, 200)}`).toBe(false);
      }
    }
  });
});
