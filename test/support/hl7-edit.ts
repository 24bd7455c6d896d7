/** Editing HL7 test messages field by field (segments separated by CR, fields by `|`). */

/**
 * Sets field `n` of the first `segment` (HL7 numbering: for MSH, MSH-1 is the separator itself) to `value`,
 * adding empty fields as needed. Returns the new message.
 */
export function setField(message: string, segment: string, n: number, value: string): string {
  const segments = message.split('\r');
  const i = segments.findIndex((s) => s.startsWith(`${segment}|`));
  if (i < 0) throw new Error(`no ${segment} segment`);
  const fields = segments[i]!.split('|');
  const index = segment === 'MSH' ? n - 1 : n;
  while (fields.length <= index) fields.push('');
  fields[index] = value;
  segments[i] = fields.join('|');
  return segments.join('\r');
}

/** Reads field `n` of the first `segment` ('' when absent). */
export function getField(message: string, segment: string, n: number): string {
  const seg = message.split('\r').find((s) => s.startsWith(`${segment}|`));
  if (!seg) return '';
  return seg.split('|')[segment === 'MSH' ? n - 1 : n] ?? '';
}

/** Sets several fields at once: `{ 'PV1-37': '54', 'PID-30': 'Y', 'EVN-2': '20261127090000' }`. */
export function editFields(message: string, edits: Record<string, string>): string {
  let out = message;
  for (const [ref, value] of Object.entries(edits)) {
    const m = /^([A-Z0-9]{3})-(\d+)$/.exec(ref);
    if (!m) throw new Error(`not a field reference: ${ref}`);
    out = setField(out, m[1]!, Number(m[2]), value);
  }
  return out;
}

/** Replaces the MSH-9 trigger (and EVN-1) of a message, e.g. turns an A08 into an A31. */
export function withTrigger(message: string, trigger: string, structure = `ADT_A01`): string {
  return editFields(message, { 'MSH-9': `ADT^${trigger}^${structure}`, 'EVN-1': trigger });
}

/** Appends a segment (e.g. `MRG|9991590838^^^NHS^NH`) after the first segment named `after`. */
export function insertSegment(message: string, after: string, segment: string): string {
  const segments = message.split('\r');
  const i = segments.findIndex((s) => s.startsWith(`${after}|`));
  if (i < 0) throw new Error(`no ${after} segment`);
  segments.splice(i + 1, 0, segment);
  return segments.join('\r');
}
