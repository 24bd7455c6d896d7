/** The synthetic HL7 fixtures in test/fixtures/hl7 (NHS England-shaped and real-world-shaped), as a hospital would send them (CR separators). */
import { readFileSync } from 'node:fs';

const dir = new URL('../fixtures/hl7/', import.meta.url);

/** A fixture with CR segment separators; `replace` edits fields (e.g. a new MSH-10) before sending. */
export function fixture(name: string, replace: Record<string, string> = {}): string {
  let text = readFileSync(new URL(name, dir), 'utf8').replace(/\r?\n/g, '\r').replace(/\r+$/, '');
  for (const [from, to] of Object.entries(replace)) text = text.split(from).join(to);
  return text;
}

/** Waits until `fn` returns a truthy value (polling), or fails with the last value seen. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
