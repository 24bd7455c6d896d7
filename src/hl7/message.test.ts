import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../domain/errors.js';
import { canonicalSegments, decodeHl7Bytes, escapeHl7, parseHl7 } from './message.js';

const FIXTURES = new URL('../../test/fixtures/hl7/', import.meta.url);
const fixtureNames = readdirSync(FIXTURES).filter((f) => f.endsWith('.hl7'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

/** The fixture re-joined with another segment terminator. */
const withBreaks = (text: string, br: string): string => text.split(/\r\n|\r|\n/).join(br);

const ADMIT = fixture('a01-admit.hl7');

describe('parseHl7: segments and separators', () => {
  it.each([
    ['LF', '\n'],
    ['CR', '\r'],
    ['CRLF', '\r\n'],
  ])('reads the same segments whether they end in %s', (_name, br) => {
    const msg = parseHl7(withBreaks(ADMIT, br));
    expect(msg.segments().map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'PD1', 'PV1', 'PV2']);
    expect(msg.segment('PV1')?.component(19, 1)).toBe('SPL0001234');
  });

  it.each(fixtureNames.filter((f) => f !== 'malformed-no-msh.hl7'))(
    'parses fixture %s with LF, CR and CRLF alike',
    (name) => {
      const text = fixture(name);
      const [lf, cr, crlf] = ['\n', '\r', '\r\n'].map((br) => parseHl7(withBreaks(text, br)).toString());
      expect(cr).toBe(lf);
      expect(crlf).toBe(lf);
      const msh = parseHl7(text).msh;
      expect([msh.component(9, 1), msh.component(9, 2)]).toEqual(['ADT', expect.stringMatching(/^A\d\d$/)]);
    },
  );

  it('ignores blank lines, leading whitespace, MLLP framing bytes and trailing whitespace', () => {
    const text = `\u000b \r\n\n${ADMIT.replace(/\n/g, '  \r\n\r\n')}\u001c\r`;
    const msg = parseHl7(text);
    expect(msg.segments()).toHaveLength(6);
    expect(msg.segment('PV2')?.component(3, 2)).toBe('Fall at home');
  });

  it('refuses a message whose first segment is not MSH with InputError no-msh', () => {
    expect(() => parseHl7(fixture('malformed-no-msh.hl7'))).toThrow(InputError);
    expect(() => parseHl7(fixture('malformed-no-msh.hl7'))).toThrow(expect.objectContaining({ code: 'no-msh' }));
    expect(() => parseHl7('')).toThrow(expect.objectContaining({ code: 'no-msh' }));
    expect(() => parseHl7('  \r\n  ')).toThrow(expect.objectContaining({ code: 'no-msh' }));
  });

  it('refuses unusable encoding characters with bad-header at MSH-2', () => {
    expect(() => parseHl7('MSH|^~|PAS|RX1')).toThrow(
      expect.objectContaining({ code: 'bad-header', location: 'MSH-2' }),
    );
    expect(() => parseHl7('MSH|^^\\&|PAS|RX1')).toThrow(expect.objectContaining({ code: 'bad-header' }));
    expect(() => parseHl7('MSHA^~\\&APAS')).toThrow(expect.objectContaining({ code: 'bad-header', location: 'MSH-1' }));
  });
});

describe('parseHl7: MSH numbering and accessors', () => {
  const msg = parseHl7(ADMIT);
  const msh = msg.msh;

  it('counts MSH-1 as the field separator and MSH-2 as the encoding characters, so MSH-9 is the message type', () => {
    expect(msh.field(1)).toBe('|');
    expect(msh.field(2)).toBe('^~\\&');
    expect(msh.field(3)).toBe('PAS');
    expect(msh.field(4)).toBe('RX1');
    expect(msh.field(7)).toBe('20261122093000');
    expect(msh.component(9, 1)).toBe('ADT');
    expect(msh.component(9, 2)).toBe('A01');
    expect(msh.component(9, 3)).toBe('ADT_A01');
    expect(msh.field(10)).toBe('RX1-000001');
    expect(msh.field(12)).toBe('2.4');
    expect(msh.field(18)).toBe('UNICODE UTF-8');
    expect(msh.field(19)).toBe('EN');
  });

  it('returns empty strings for missing trailing fields, components and repetitions', () => {
    const pid = msg.segment('PID');
    expect(pid?.field(99)).toBe('');
    expect(pid?.component(5, 12)).toBe('');
    expect(pid?.field(3, 7)).toBe('');
    expect(pid?.subComponent(3, 4, 9)).toBe('');
    expect(msg.segment('PV1')?.field(45)).toBe('');
    expect(msg.segment('ZZZ')).toBeUndefined();
  });

  it('reads repetitions of PID-3 as structured CX values', () => {
    const pid = msg.segment('PID');
    expect(pid?.cx(3)).toEqual([
      {
        id: '9995260182',
        checkDigit: '',
        assigningAuthority: 'NHS',
        assigningAuthorityId: '',
        identifierType: 'NH',
        assigningFacility: '',
      },
      {
        id: 'RX1001234',
        checkDigit: '',
        assigningAuthority: 'RX1',
        assigningAuthorityId: '',
        identifierType: 'MR',
        assigningFacility: '',
      },
    ]);
    expect(pid?.repetitions(3).map((r) => r.component(1))).toEqual(['9995260182', 'RX1001234']);
    expect(pid?.field(3, 2)).toBe('RX1001234^^^RX1^MR');
    expect(pid?.repetitions(4)).toEqual([]);
  });

  it('reads sub-components of an HD inside a CX', () => {
    const m = parseHl7(
      'MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.4\rPID|1||9995260182^^^NHS&2.16.840.1.113883.2.1.4.1&ISO^NH',
    );
    const pid = m.segment('PID');
    expect(pid?.subComponent(3, 4, 1)).toBe('NHS');
    expect(pid?.subComponent(3, 4, 2)).toBe('2.16.840.1.113883.2.1.4.1');
    expect(pid?.cx(3)[0]?.assigningAuthorityId).toBe('2.16.840.1.113883.2.1.4.1');
  });

  it('finds every segment of a name, and keeps Z-segments without disturbing standard ones', () => {
    const text = withBreaks(ADMIT, '\r') + '\rZU1|local|stuff^x\rNK1|1|SMITH^JOHN\rNK1|2|SMITH^JANE';
    const m = parseHl7(text);
    expect(m.segments('NK1').map((s) => s.component(2, 2))).toEqual(['JOHN', 'JANE']);
    expect(m.segment('NK1', 2)?.field(1)).toBe('2');
    expect(m.segment('ZU1')?.field(1)).toBe('local');
    expect(m.segment('PV1')?.component(19, 1)).toBe('SPL0001234');
  });

  it('treats the HL7 explicit null "" as empty', () => {
    const m = parseHl7('MSH|^~\\&|A|B|C|D|20260101||ADT^A08|1|P|2.4\rPID|1||""||""^""');
    expect(m.segment('PID')?.field(3)).toBe('');
    expect(m.segment('PID')?.has(3)).toBe(false);
    expect(m.segment('PID')?.component(5, 1)).toBe('');
  });

  it('serialises back to CR-terminated segments, unchanged', () => {
    expect(parseHl7(ADMIT).toString()).toBe(ADMIT.trimEnd().split('\n').join('\r'));
  });
});

describe('parseHl7: custom delimiters', () => {
  it('takes the field separator and encoding characters from MSH-1 and MSH-2', () => {
    const text = [
      'MSH#*~\\&#PAS#RX1#ADMISSION-ALERTS#NHSE#20261122093000##ADT*A01*ADT_A01#C1#P#2.4',
      'PID#1##9995260182***NHS*NH~RX1001234***RX1*MR##SMITH*MARGARET \\F\\ \\S\\ \\T\\ \\R\\ \\E\\',
      ['PV1', '1', 'I', 'RX1WD12*B3*12*RX1&x', ...Array<string>(15).fill(''), 'SPL1***RX1*VN'].join('#'),
    ].join('\r');
    const msg = parseHl7(text);
    expect(msg.delimiters).toEqual({ field: '#', component: '*', repetition: '~', escape: '\\', subComponent: '&' });
    expect(msg.msh.field(1)).toBe('#');
    expect(msg.msh.field(2)).toBe('*~\\&');
    expect(msg.msh.component(9, 2)).toBe('A01');
    const pid = msg.segment('PID');
    expect(pid?.cx(3).map((c) => [c.id, c.identifierType])).toEqual([
      ['9995260182', 'NH'],
      ['RX1001234', 'MR'],
    ]);
    // escapes decode to this message's own delimiters
    expect(pid?.component(5, 2)).toBe('MARGARET # * & ~ \\');
    expect(msg.segment('PV1')?.subComponent(3, 4, 1)).toBe('RX1');
    expect(msg.segment('PV1')?.component(19, 1)).toBe('SPL1');
  });

  it('accepts a fifth (v2.5 truncation) encoding character and decodes \\P\\ to it', () => {
    const msg = parseHl7('MSH|^~\\&#|A|B|C|D|20260101||ADT^A01|1|P|2.5\rNTE|1||50\\P\\ off');
    expect(msg.delimiters.truncation).toBe('#');
    expect(msg.msh.field(2)).toBe('^~\\&#');
    expect(msg.segment('NTE')?.field(3)).toBe('50# off');
  });
});

describe('parseHl7: escape sequences are decoded on access', () => {
  const nte = (value: string): string =>
    parseHl7(`MSH|^~\\&|A|B|C|D|20260101||ADT^A08|1|P|2.4\rNTE|1||${value}`).segment('NTE')?.field(3) ?? '';

  it.each([
    ['\\F\\', '|'],
    ['\\S\\', '^'],
    ['\\T\\', '&'],
    ['\\R\\', '~'],
    ['\\E\\', '\\'],
    ['A\\.br\\B', 'A\nB'],
    ['A\\.sp\\B', 'A\nB'],
    ['\\X41\\', 'A'],
    ['\\XC38B\\', 'Ë'],
    ['\\X4F27\\BRIEN', "O'BRIEN"],
    ['\\H\\BOLD\\N\\ text', 'BOLD text'],
    ['\\.in+4\\x', 'x'],
    ['\\Zlocal\\x', 'x'],
    ['\\C2842\\x', 'x'],
    ['\\X4\\x', 'x'],
    ['no escapes', 'no escapes'],
    ['dangling \\ escape', 'dangling \\ escape'],
  ])('%s reads as %j', (raw, decoded) => {
    expect(nte(raw)).toBe(decoded);
  });

  it('decodes escapes inside components without splitting on the escaped separator', () => {
    const m = parseHl7('MSH|^~\\&|A|B|C|D|20260101||ADT^A08|1|P|2.4\rPID|1||||SMITH\\S\\JONES^ANN\\T\\MARY');
    expect(m.segment('PID')?.component(5, 1)).toBe('SMITH^JONES');
    expect(m.segment('PID')?.component(5, 2)).toBe('ANN&MARY');
  });

  it('decodes \\Xhh\\ as Latin-1 when MSH-18 says 8859/1', () => {
    const m = parseHl7('MSH|^~\\&|A|B|C|D|20260101||ADT^A08|1|P|2.4|||||GBR|8859/1\rNTE|1||BRONT\\XCB\\');
    expect(m.segment('NTE')?.field(3)).toBe('BRONTË');
  });
});

describe('escapeHl7', () => {
  it('escapes every delimiter and line breaks, and round-trips through the parser', () => {
    const value = 'a|b^c&d~e\\f\r\ng\nh';
    const escaped = escapeHl7(value);
    expect(escaped).toBe('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\g\\.br\\h');
    const m = parseHl7(`MSH|^~\\&|A|B|C|D|20260101||ADT^A08|1|P|2.4\rNTE|1||${escaped}`);
    expect(m.segment('NTE')?.field(3)).toBe('a|b^c&d~e\\f\ng\nh');
  });
});

describe('canonicalSegments', () => {
  it('gives one string for every way the same message travels (CR, LF, CRLF, MLLP bytes, trailing spaces)', () => {
    const cr = 'MSH|^~\\&|A|RX1|C|D|20260101||ADT^A08|1|P|2.4\rPID|1||X';
    for (const variant of [
      cr.replaceAll('\r', '\n'),
      `${cr.replaceAll('\r', '\r\n')}\r\n`,
      `\u000b${cr}\u001c\r`,
      `\ufeff  ${cr.replaceAll('\r', '  \r\n\n')}\n`,
    ]) {
      expect(canonicalSegments(variant)).toBe(cr);
    }
    expect(canonicalSegments(cr.replace('|X', '|Y'))).not.toBe(cr);
  });
});

describe('control characters', () => {
  it('escapeHl7 writes control characters as \\Xhh\\ (never the MLLP bytes 0x0B, 0x1C), and they round-trip', () => {
    const value = 'a\u000bb\u001cc\u0000d\te';
    const escaped = escapeHl7(value);
    expect(escaped).toBe('a\\X0B\\b\\X1C\\c\\X00\\d\te');
    const m = parseHl7(`MSH|^~\\&|A|B|C|D|20260101||ADT^A08|1|P|2.4\rNTE|1||${escapeHl7('a\u000bb\u001cc')}`);
    expect(m.segment('NTE')?.field(3)).toBe('a\u000bb\u001cc');
  });

  it('drops NUL bytes written as \\X00\\ (no text field means one, and PostgreSQL cannot store it)', () => {
    const m = parseHl7('MSH|^~\\&|A|B|C|D|20260101||ADT^A08|1|P|2.4\rNTE|1||SM\\X00\\ITH\\X004100\\');
    expect(m.segment('NTE')?.field(3)).toBe('SMITHA');
  });
});

describe('decodeHl7Bytes', () => {
  const header = (charset: string) => `MSH|^~\\&|PAS|RX1|AA|NHSE|20261122093000||ADT^A01|C1|P|2.4|||||GBR|${charset}\r`;

  it.each(['8859/1', 'ISO IR100', 'ISO-8859-1'])('reads Latin-1 bytes when MSH-18 is %s (BRONTË)', (charset) => {
    const buf = Buffer.concat([Buffer.from(header(charset), 'latin1'), Buffer.from('PID|1||||BRONTË^ANNE', 'latin1')]);
    expect(buf.includes(0xcb)).toBe(true);
    const msg = parseHl7(decodeHl7Bytes(buf));
    expect(msg.segment('PID')?.component(5, 1)).toBe('BRONTË');
  });

  it.each(['UNICODE UTF-8', 'ASCII', ''])('reads UTF-8 bytes when MSH-18 is %j', (charset) => {
    const buf = Buffer.from(header(charset) + 'PID|1||||BRONTË^ZOË', 'utf8');
    expect(parseHl7(decodeHl7Bytes(buf)).segment('PID')?.component(5, 2)).toBe('ZOË');
  });

  it('drops a UTF-8 byte-order mark', () => {
    const buf = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(header('UNICODE UTF-8'), 'utf8')]);
    const text = decodeHl7Bytes(buf);
    expect(text.startsWith('MSH|')).toBe(true);
  });

  it('reads undeclared Latin-1 as Latin-1 instead of replacement characters', () => {
    const buf = Buffer.from(header('') + 'PID|1||||BRONTË', 'latin1');
    expect(decodeHl7Bytes(buf)).toContain('BRONTË');
    expect(decodeHl7Bytes(buf)).not.toContain('\ufffd');
  });

  it('finds MSH-18 with custom delimiters and CRLF', () => {
    const buf = Buffer.from(
      'MSH#*~\\&#PAS#RX1#AA#NHSE#20261122##ADT*A01#1#P#2.4######8859/1\r\nPID#1####BRONTË',
      'latin1',
    );
    expect(decodeHl7Bytes(buf)).toContain('BRONTË');
  });
});
