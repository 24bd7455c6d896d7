/**
 * A small, fast HL7 v2 (ER7) parser: bytes → text (MSH-18 charset) → segments → fields, with components,
 * repetitions, sub-components and escape sequences decoded lazily, on access.
 *
 * Accessors follow HL7 numbering: `seg.field(19)` is PV1-19, `seg.component(3, 9)` is PV1-3.9. For MSH,
 * MSH-1 is the field separator itself and MSH-2 the encoding characters, so `msh.field(9)` is MSH-9 as the
 * standard counts it. Every accessor returns a decoded string and '' for anything absent (missing trailing
 * fields or components), so callers never index past the end. The HL7 explicit null `""` reads as ''.
 *
 * A value read at a level above its leaves (`field()` of a composite field) keeps the lower-level separators
 * as sent, with escapes decoded; use `component()` / `subComponent()` for composite types.
 */
import { InputError } from '../domain/errors.js';

/** The separators of one message: MSH-1 and MSH-2 (HL7 v2.5 section 2.5.4). */
export interface Hl7Delimiters {
  /** MSH-1, usually `|` */
  field: string;
  /** MSH-2.1, usually `^` */
  component: string;
  /** MSH-2.2, usually `~` */
  repetition: string;
  /** MSH-2.3, usually `\` */
  escape: string;
  /** MSH-2.4, usually `&` */
  subComponent: string;
  /** MSH-2.5 (v2.5+ truncation character, usually `#`), when sent */
  truncation?: string;
}

/** The delimiters the standard recommends, `|^~\&`, used for everything this service writes. */
export const DEFAULT_DELIMITERS: Readonly<Hl7Delimiters> = Object.freeze({
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subComponent: '&',
});

/** One CX (extended composite ID) value, e.g. a PID-3 repetition `9995260182^^^NHS^NH`. */
export interface Cx {
  /** CX.1 ID number */
  id: string;
  /** CX.2 check digit */
  checkDigit: string;
  /** CX.4 assigning authority, HD.1 namespace ID (e.g. `NHS`, `RX1`) */
  assigningAuthority: string;
  /** CX.4 assigning authority, HD.2 universal ID (e.g. the NHS number OID `2.16.840.1.113883.2.1.4.1`) */
  assigningAuthorityId: string;
  /** CX.5 identifier type code (e.g. `NH`, `NHSNMBR`, `MR`, `VN`) */
  identifierType: string;
  /** CX.6 assigning facility, HD.1 */
  assigningFacility: string;
}

interface DecodeContext {
  delimiters: Hl7Delimiters;
  /** how `\Xhh\` bytes become characters */
  hexCharset: 'utf-8' | 'latin1';
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes from a `\Xhh..\` escape as text: UTF-8 unless the message declared Latin-1 (or the bytes are not UTF-8).
 * NUL (0x00) bytes are dropped: no text field means one, and PostgreSQL text and jsonb cannot hold it.
 */
function decodeHexBytes(hex: string, charset: 'utf-8' | 'latin1'): string {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) return '';
  const bytes = Buffer.from(hex, 'hex');
  let text: string | undefined;
  if (charset === 'utf-8') {
    try {
      text = utf8Strict.decode(bytes);
    } catch {
      // not UTF-8 after all: fall through to Latin-1, which decodes any byte
    }
  }
  text ??= bytes.toString('latin1');
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}

/**
 * Decodes HL7 escape sequences (HL7 v2.5 section 2.7): `\F\ \S\ \T\ \R\ \E\ \P\`, `\Xhh..\` hex bytes,
 * `\.br\` (and `\.sp\`) as a newline. Highlighting (`\H\ \N\`), other formatting commands, character-set
 * switches (`\C..\ \M..\`) and local escapes (`\Z..\`) are removed. An escape character with no closing partner
 * is kept literally.
 */
function unescapeWith(value: string, ctx: DecodeContext): string {
  const d = ctx.delimiters;
  const esc = d.escape;
  let start = value.indexOf(esc);
  if (start === -1) return value;
  let out = '';
  let pos = 0;
  while (start !== -1) {
    const end = value.indexOf(esc, start + 1);
    if (end === -1) break;
    out += value.slice(pos, start);
    const body = value.slice(start + 1, end);
    switch (body) {
      case 'F':
        out += d.field;
        break;
      case 'S':
        out += d.component;
        break;
      case 'T':
        out += d.subComponent;
        break;
      case 'R':
        out += d.repetition;
        break;
      case 'E':
        out += esc;
        break;
      case 'P':
        out += d.truncation ?? '';
        break;
      case '.br':
        out += '\n';
        break;
      default:
        if (body.startsWith('X')) out += decodeHexBytes(body.slice(1), ctx.hexCharset);
        else if (/^\.sp\s*\d*$/.test(body)) out += '\n';
      // anything else (\H\, \N\, \.in\, \C..\, \Z..\, unknown): removed
    }
    pos = end + 1;
    start = value.indexOf(esc, pos);
  }
  return out + value.slice(pos);
}

function decodeLeaf(raw: string, ctx: DecodeContext): string {
  if (raw === '""') return '';
  return unescapeWith(raw, ctx);
}

/** Reads MSH-1 and MSH-2 as they are: no separator or escape character can occur in them. */
const LITERAL_CTX: DecodeContext = {
  delimiters: { field: '\u0000', component: '\u0000', repetition: '\u0000', escape: '\u0000', subComponent: '\u0000' },
  hexCharset: 'utf-8',
};

/** Splits `s` on `sep`, returning the `index`-th (0-based) part or '' — without allocating every part. */
function nth(s: string, sep: string, index: number): string {
  let from = 0;
  for (let i = 0; i < index; i++) {
    const at = s.indexOf(sep, from);
    if (at === -1) return '';
    from = at + sep.length;
  }
  const end = s.indexOf(sep, from);
  return end === -1 ? s.slice(from) : s.slice(from, end);
}

/** One repetition of one field, with HL7-numbered (1-based) accessors. */
export class Hl7Field {
  constructor(
    /** the repetition as sent: components and escapes still encoded */
    readonly raw: string,
    private readonly ctx: DecodeContext,
  ) {}

  /** The whole repetition, escapes decoded (component separators kept as sent). */
  get text(): string {
    return decodeLeaf(this.raw, this.ctx);
  }

  /** Component `c` (1-based), escapes decoded, sub-component separators kept as sent; '' when absent. */
  component(c: number): string {
    if (c < 1) return '';
    return decodeLeaf(nth(this.raw, this.ctx.delimiters.component, c - 1), this.ctx);
  }

  /** Sub-component `s` of component `c` (both 1-based), decoded; '' when absent. */
  subComponent(c: number, s: number): string {
    if (c < 1 || s < 1) return '';
    const comp = nth(this.raw, this.ctx.delimiters.component, c - 1);
    return decodeLeaf(nth(comp, this.ctx.delimiters.subComponent, s - 1), this.ctx);
  }

  /** All components, decoded (sub-component separators kept). */
  components(): string[] {
    return this.raw.split(this.ctx.delimiters.component).map((c) => decodeLeaf(c, this.ctx));
  }

  /** This repetition read as a CX (extended composite ID), e.g. a PID-3 patient identifier. */
  asCx(): Cx {
    return {
      id: this.component(1).trim(),
      checkDigit: this.component(2).trim(),
      assigningAuthority: this.subComponent(4, 1).trim(),
      assigningAuthorityId: this.subComponent(4, 2).trim(),
      identifierType: this.component(5).trim(),
      assigningFacility: this.subComponent(6, 1).trim(),
    };
  }
}

/** One segment. Field numbers are HL7's: `field(1)` is the first field after the name (MSH-1 for MSH). */
export class Hl7Segment {
  /** index = HL7 field number; index 0 is the segment name */
  private readonly fields: readonly string[];

  constructor(
    /** segment ID, e.g. `PID`; Z-segments start with `Z` */
    readonly name: string,
    fields: readonly string[],
    private readonly ctx: DecodeContext,
  ) {
    this.fields = fields;
  }

  /** The highest field number present (trailing empty fields a sender omitted do not count). */
  get fieldCount(): number {
    return this.fields.length - 1;
  }

  /** Field `n` exactly as sent (all repetitions, escapes still encoded); '' when absent. */
  raw(n: number): string {
    if (n < 1) return '';
    return this.fields[n] ?? '';
  }

  /** True when field `n` has any content (HL7 `""` counts as empty). */
  has(n: number): boolean {
    const r = this.raw(n);
    return r !== '' && r !== '""';
  }

  private isMshDelimiterField(n: number): boolean {
    return this.name === 'MSH' && (n === 1 || n === 2);
  }

  /**
   * Repetition `rep` (1-based) of field `n`, escapes decoded; for a composite field the component separators
   * are kept as sent. '' when absent. MSH-1 and MSH-2 are returned literally.
   */
  field(n: number, rep = 1): string {
    if (this.isMshDelimiterField(n)) return rep === 1 ? this.raw(n) : '';
    if (rep < 1) return '';
    return decodeLeaf(nth(this.raw(n), this.ctx.delimiters.repetition, rep - 1), this.ctx);
  }

  /** Component `c` of repetition `rep` of field `n` (HL7 `SEG-n.c`), decoded; '' when absent. */
  component(n: number, c: number, rep = 1): string {
    if (this.isMshDelimiterField(n)) return c === 1 ? this.field(n, rep) : '';
    if (rep < 1) return '';
    return new Hl7Field(nth(this.raw(n), this.ctx.delimiters.repetition, rep - 1), this.ctx).component(c);
  }

  /** Sub-component `s` of component `c` of field `n` (HL7 `SEG-n.c.s`), decoded; '' when absent. */
  subComponent(n: number, c: number, s: number, rep = 1): string {
    if (this.isMshDelimiterField(n)) return c === 1 && s === 1 ? this.field(n, rep) : '';
    if (rep < 1) return '';
    return new Hl7Field(nth(this.raw(n), this.ctx.delimiters.repetition, rep - 1), this.ctx).subComponent(c, s);
  }

  /** Every repetition of field `n` (none when the field is empty), for structured reading. */
  repetitions(n: number): Hl7Field[] {
    const r = this.raw(n);
    if (r === '' || r === '""') return [];
    if (this.isMshDelimiterField(n)) return [new Hl7Field(r, LITERAL_CTX)];
    return r.split(this.ctx.delimiters.repetition).map((x) => new Hl7Field(x, this.ctx));
  }

  /** Every repetition of field `n` read as CX identifiers (PID-3, PID-2, MRG-1, PV1-19), empty IDs included. */
  cx(n: number): Cx[] {
    return this.repetitions(n).map((f) => f.asCx());
  }

  /** The segment as sent (escapes still encoded), without a terminator. */
  toString(): string {
    const d = this.ctx.delimiters.field;
    if (this.name === 'MSH') return 'MSH' + d + this.fields.slice(2).join(d);
    return this.fields.join(d);
  }
}

/** A parsed HL7 v2 message. */
export class Hl7Message {
  constructor(
    readonly delimiters: Readonly<Hl7Delimiters>,
    /** every segment in order, MSH first, Z-segments included */
    readonly allSegments: readonly Hl7Segment[],
  ) {}

  /** The MSH segment (always present: {@link parseHl7} refuses a message without one). */
  get msh(): Hl7Segment {
    const first = this.allSegments[0];
    if (!first) throw new InputError('no-msh', 'message has no MSH segment', 'MSH');
    return first;
  }

  /** The `occurrence`-th (1-based) segment named `name`, or undefined. */
  segment(name: string, occurrence = 1): Hl7Segment | undefined {
    let seen = 0;
    for (const s of this.allSegments) {
      if (s.name === name && ++seen === occurrence) return s;
    }
    return undefined;
  }

  /** All segments named `name` in order; all segments when no name is given. */
  segments(name?: string): Hl7Segment[] {
    return name === undefined ? [...this.allSegments] : this.allSegments.filter((s) => s.name === name);
  }

  /** The message re-serialised with CR segment terminators (HL7 v2.5 section 2.5.1). */
  toString(): string {
    return this.allSegments.map((s) => s.toString()).join('\r');
  }
}

const SEGMENT_BREAK = /\r\n|\r|\n/;

/** Whitespace, a BOM, or an MLLP start-block (0x0B) / end-block (0x1C) byte. */
function isJunk(code: number): boolean {
  return (
    code === 0x0b ||
    code === 0x1c ||
    code === 0xfeff ||
    code === 0x20 ||
    (code >= 0x09 && code <= 0x0d) ||
    code === 0xa0
  );
}

/** Drops what senders put before MSH: whitespace, a BOM, MLLP framing bytes. */
export function stripLeadingJunk(text: string): string {
  let i = 0;
  while (i < text.length && isJunk(text.charCodeAt(i))) i++;
  return i === 0 ? text : text.slice(i);
}

/**
 * The message as {@link parseHl7} reads it, as one string: what senders put before MSH dropped, segments split on CR,
 * LF or CRLF, each without its trailing whitespace or framing bytes, blank lines dropped, joined by CR. Two
 * transmissions of the same message (over MLLP, over HTTP with LF, wrapped in MLLP bytes) give the same string.
 */
export function canonicalSegments(text: string): string {
  return stripLeadingJunk(text)
    .split(SEGMENT_BREAK)
    .map(stripTrailingJunk)
    .filter((s) => s !== '')
    .join('\r');
}

function stripTrailingJunk(line: string): string {
  let end = line.length;
  while (end > 0 && isJunk(line.charCodeAt(end - 1))) end--;
  return end === line.length ? line : line.slice(0, end);
}

function isValidDelimiter(ch: string): boolean {
  return ch.length === 1 && !/[A-Za-z0-9\s]/.test(ch);
}

/** Reads MSH-1 and MSH-2 from the first line of a message (which starts with `MSH`). */
function readDelimiters(mshLine: string): Hl7Delimiters {
  const field = mshLine.charAt(3);
  if (!isValidDelimiter(field)) {
    throw new InputError('bad-header', 'MSH-1 field separator is missing or not a punctuation character', 'MSH-1');
  }
  const sepEnd = mshLine.indexOf(field, 4);
  const enc = sepEnd === -1 ? mshLine.slice(4) : mshLine.slice(4, sepEnd);
  const chars = [...enc];
  const distinct = new Set([field, ...chars]);
  if (chars.length < 4 || chars.length > 5 || distinct.size !== chars.length + 1 || !chars.every(isValidDelimiter)) {
    throw new InputError(
      'bad-header',
      'MSH-2 encoding characters must be 4 (or 5 from v2.5) distinct punctuation characters, e.g. ^~\\&',
      'MSH-2',
    );
  }
  const [component = '^', repetition = '~', escape = '\\', subComponent = '&', truncation] = chars;
  return truncation === undefined
    ? { field, component, repetition, escape, subComponent }
    : { field, component, repetition, escape, subComponent, truncation };
}

/** MSH-18 names meaning ISO 8859-1 (HL7 table 0211). */
const LATIN1_NAMES = new Set([
  '8859/1',
  'ISO IR100',
  'ISO-IR100',
  'ISO-IR 100',
  'ISO-8859-1',
  'ISO8859-1',
  'ISO_8859-1',
  'LATIN1',
  'LATIN-1',
]);

type Charset = { kind: 'utf-8' } | { kind: 'latin1' } | { kind: 'other'; label: string };

/** Maps an MSH-18 value (HL7 table 0211) to how its bytes are decoded. */
function charsetFor(msh18: string): Charset {
  const name = msh18.trim().toUpperCase();
  if (LATIN1_NAMES.has(name)) return { kind: 'latin1' };
  const iso = /^(?:8859\/|ISO[-_ ]?8859[-_])(\d{1,2})$/.exec(name);
  if (iso) return { kind: 'other', label: `iso-8859-${iso[1]}` };
  // '', ASCII, UNICODE, UNICODE UTF-8, UTF-8 and anything unknown: UTF-8 (a superset of ASCII)
  return { kind: 'utf-8' };
}

/** MSH-18 (first repetition, first component) from the first line of raw text; '' when absent. */
function sniffMsh18(firstLine: string): string {
  if (!firstLine.startsWith('MSH') || firstLine.length < 8) return '';
  const fs = firstLine.charAt(3);
  const parts = firstLine.split(fs);
  // parts[0] = 'MSH', parts[1] = MSH-2, so MSH-n is parts[n - 1]
  const enc = parts[1] ?? '';
  const msh18 = parts[17] ?? '';
  const rep = enc.charAt(1) || '~';
  const comp = enc.charAt(0) || '^';
  return nth(nth(msh18, rep, 0), comp, 0).trim();
}

/**
 * Decodes the bytes of one message to text using the charset named in MSH-18 (HL7 table 0211): UTF-8 by
 * default and for `UNICODE UTF-8` / `ASCII`; ISO 8859-1 for `8859/1`, `ISO IR100`, `ISO-8859-1`; other
 * `8859/n` parts through the platform's decoders. A UTF-8 byte-order mark is dropped. Bytes that claim to be
 * (or default to) UTF-8 but are not valid UTF-8 are read as Latin-1 rather than turned into U+FFFD: many
 * hospital systems send Latin-1 without saying so.
 */
export function decodeHl7Bytes(buf: Buffer): string {
  let start = 0;
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
  // the header is ASCII in every supported charset: read its first line as Latin-1 to find MSH-18
  let i = start;
  while (
    i < buf.length &&
    (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x0b)
  )
    i++;
  let eol = i;
  while (eol < buf.length && buf[eol] !== 0x0d && buf[eol] !== 0x0a) eol++;
  const charset = charsetFor(sniffMsh18(buf.toString('latin1', i, eol)));
  const body = start === 0 ? buf : buf.subarray(start);
  switch (charset.kind) {
    case 'latin1':
      return body.toString('latin1');
    case 'other':
      try {
        return new TextDecoder(charset.label).decode(body);
      } catch {
        return body.toString('latin1');
      }
    case 'utf-8':
      try {
        return utf8Strict.decode(body);
      } catch {
        return body.toString('latin1');
      }
  }
}

/**
 * Parses one HL7 v2 message. Segments may end in CR, LF or CRLF; blank lines and trailing whitespace are ignored,
 * as are leading whitespace, a BOM and MLLP framing bytes. The delimiters come from MSH-1 and MSH-2, so custom
 * ones work. Throws `InputError('no-msh')` when the first segment is not MSH, `InputError('bad-header')` when
 * MSH-1/MSH-2 are unusable.
 */
export function parseHl7(text: string): Hl7Message {
  const lines = stripLeadingJunk(text).split(SEGMENT_BREAK);
  const first = lines[0] ?? '';
  if (!first.startsWith('MSH')) {
    throw new InputError('no-msh', 'the message does not start with an MSH segment', 'MSH');
  }
  const delimiters = readDelimiters(first);
  const ctx: DecodeContext = {
    delimiters,
    hexCharset: charsetFor(sniffMsh18(first)).kind === 'latin1' ? 'latin1' : 'utf-8',
  };
  const segments: Hl7Segment[] = [];
  for (const line of lines) {
    const trimmed = stripTrailingJunk(line);
    if (trimmed === '') continue;
    const parts = trimmed.split(delimiters.field);
    const name = (parts[0] ?? '').trim();
    if (name === 'MSH') {
      // MSH-1 is the separator itself: insert it so that index = field number
      parts.splice(1, 0, delimiters.field);
    }
    segments.push(new Hl7Segment(name, parts, ctx));
  }
  return new Hl7Message(delimiters, segments);
}

/**
 * Escapes a value for an HL7 field (HL7 v2.5 section 2.7): the escape character first, then the field,
 * component, repetition, sub-component (and truncation) characters; line breaks become `\.br\`; every other
 * control character (C0 and DEL, tab excepted) becomes `\Xhh\`, so the output never holds the MLLP framing bytes
 * 0x0B and 0x1C (an ACK echoing such a value could otherwise not be framed).
 */
export function escapeHl7(value: string, delimiters: Readonly<Hl7Delimiters> = DEFAULT_DELIMITERS): string {
  const d = delimiters;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value.charAt(i);
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.subComponent) out += `${d.escape}T${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (d.truncation !== undefined && ch === d.truncation) out += `${d.escape}P${d.escape}`;
    else if (ch === '\r' || ch === '\n') {
      if (ch === '\r' && value.charAt(i + 1) === '\n') i++;
      out += `${d.escape}.br${d.escape}`;
    } else {
      const code = value.charCodeAt(i);
      if ((code < 0x20 && code !== 0x09) || code === 0x7f) {
        out += `${d.escape}X${code.toString(16).toUpperCase().padStart(2, '0')}${d.escape}`;
      } else out += ch;
    }
  }
  return out;
}
