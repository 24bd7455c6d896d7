/** Guards on a FHIR resource's JSON before it is read or stored (pure). */

/** Deepest JSON nesting accepted in a FHIR resource (an Encounter needs about 8; deeper is an attack). */
export const MAX_JSON_DEPTH = 64;

/** True when `value` nests arrays/objects deeper than `max`; iterative, so any depth is safe to ask about. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * In JSON.stringify output: an escaped NUL (`\u0000`) or an unpaired surrogate (`\udXXX`, which JSON.stringify
 * escapes; paired ones it writes as they are). PostgreSQL jsonb refuses both.
 */
const UNSTORABLE_JSON_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** True when JSON text (from JSON.stringify) holds a NUL or an unpaired surrogate, which jsonb cannot store. */
export function hasUnstorableEscape(json: string): boolean {
  return UNSTORABLE_JSON_ESCAPE.test(json);
}
