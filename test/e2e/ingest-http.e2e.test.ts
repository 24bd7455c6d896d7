/**
 * Issue "HL7 v2 and FHIR ingestion that never loses a message", items 1 and 4, through the real `POST /v1/hl7`:
 * every row of the CONTRACT.md ACK table with its exact HTTP status, content type, MSA-1, MSA-2 and ERR, every
 * rejected message found stored with its reason, and real-feed shapes (separators, custom delimiters, escapes,
 * Latin-1, versions, timestamps, NHS number conventions) checked where a user sees them: the webhook body and the
 * admission view.
 */
import { readFileSync } from 'node:fs';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HL7_ERROR_CODES, parseAck, type ParsedAck } from '../../src/hl7/ack.js';
import { parseHl7 } from '../../src/hl7/message.js';
import { eventually } from '../support/fixtures.js';
import {
  admissionOf,
  newSpell,
  registerClient,
  spellMessage,
  startIngestStory,
  stopStory,
  type IngestStory,
} from '../support/scenario.js';
import type { TestService } from '../support/service.js';
import type { WebhookReceiver } from '../support/webhook-receiver.js';

type Spell = ReturnType<typeof newSpell>;

let svc: TestService;
let hooks: WebhookReceiver;
let db: postgres.Sql;
let rx1: IngestStory['rx1'];
let rr8: IngestStory['rr8'];
let provider: IngestStory['provider'];

const HOOK = '/VQ201/c1';

beforeAll(async () => {
  ({ svc, hooks, db, rx1, rr8, provider } = await startIngestStory('VQ201'));
});
afterAll(async () => {
  await db?.end();
  await stopStory({ svc, hooks });
});

// ---- helpers ---------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  contentType: string;
  text: string;
  ack: ParsedAck | undefined;
}

/** POSTs a body to /v1/hl7 as it is; the ACK is parsed when the answer is HL7. */
async function post(
  body: string | Buffer,
  opts: { key?: string | null; contentType?: string | null } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  const key = opts.key === undefined ? rx1.apiKey : opts.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const type = opts.contentType === undefined ? 'x-application/hl7-v2+er7' : opts.contentType;
  if (type !== null) headers['content-type'] = type;
  const res = await fetch(`${svc.baseUrl}/v1/hl7`, { method: 'POST', headers, body });
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    contentType,
    text,
    ack: contentType.startsWith('x-application/hl7') ? parseAck(text) : undefined,
  };
}

interface Expected {
  status: number;
  code: string;
  controlId: string;
  /** the one ERR expected (none when absent) */
  err?: { hl7Code: keyof typeof HL7_ERROR_CODES; location?: string; message: RegExp };
}

/** Asserts an HL7 answer: HTTP status, content type, MSA-1, MSA-2, and the ERR segment (table 0357 code and text). */
function expectAck(res: Answer, e: Expected): void {
  expect(res.status, res.text).toBe(e.status);
  expect(res.contentType).toMatch(/^x-application\/hl7-v2\+er7/);
  const ack = res.ack!;
  expect(ack.code).toBe(e.code);
  expect(ack.controlId).toBe(e.controlId);
  if (!e.err) {
    expect(ack.errorDetails).toEqual([]);
    return;
  }
  expect(ack.errorDetails).toHaveLength(1);
  expect(ack.errorDetails[0]).toMatchObject({ hl7Code: e.err.hl7Code, severity: 'E', location: e.err.location ?? '' });
  expect(ack.errorDetails[0]!.message).toMatch(e.err.message);
  const err = parseHl7(res.text).segment('ERR')!;
  expect(err.component(3, 2)).toBe(HL7_ERROR_CODES[e.err.hl7Code]);
  expect(err.component(3, 3)).toBe('HL70357');
}

interface Row {
  id: string;
  transport: string;
  hospital_ods: string | null;
  message_control_id: string | null;
  status: string;
  is_primary: boolean;
  ack_code: string;
  http_status: number;
  error_code: string | null;
  error_reason: string | null;
  error_location: string | null;
}

/** The stored rows of a message, by MSH-4 + MSH-10, or by its raw text when it has neither. */
async function rowsOf(where: { controlId: string; hospital?: string } | { raw: string }): Promise<Row[]> {
  const rows =
    'raw' in where
      ? await db<Row[]>`select id::text, transport, hospital_ods, message_control_id, status, is_primary, ack_code,
          http_status, error_code, error_reason, error_location from inbound_messages where raw = ${where.raw} order by inbound_messages.id`
      : await db<Row[]>`select id::text, transport, hospital_ods, message_control_id, status, is_primary, ack_code,
          http_status, error_code, error_reason, error_location from inbound_messages
          where hospital_ods = ${where.hospital ?? 'RX1'} and message_control_id = ${where.controlId} order by inbound_messages.id`;
  return [...rows];
}

/** The shared a01-admit fixture for a fresh spell, with edits (plain text replacements). */
function a01(spell: Spell, edits: [string | RegExp, string][] = []): string {
  let text = spellMessage('a01-admit.hl7', spell);
  for (const [from, to] of edits) text = text.replace(from, to);
  return text;
}
const controlIdOf = (spell: Spell) => `${spell.ids}000001`;
const ENHANCED: [string, string] = ['|P|2.4|||||GBR|', '|P|2.4|||AL|NE|GBR|'];

const RW = new URL('../fixtures/hl7/', import.meta.url);
const spaced = (nhs: string) => `${nhs.slice(0, 3)} ${nhs.slice(3, 6)} ${nhs.slice(6)}`;

/**
 * A real-world-shaped fixture (test/fixtures/hl7) rewritten for a spell, segments joined by `sep`. Latin-1
 * fixtures stay bytes.
 */
function rw(name: string, spell: Spell, sep = '\r'): string {
  const text = readFileSync(new URL(name, RW), 'latin1');
  return text
    .split(/\r\n|\r|\n/)
    .filter((l) => l !== '')
    .join(sep)
    .replaceAll('999 526 0182', spaced(spell.nhs))
    .replaceAll('9995260182', spell.nhs)
    .replaceAll('SPL0001234', spell.visit)
    .replace(/RX1-([A-Z]\d{5})/, `${spell.ids}$1`);
}
const rwControlId = (name: string, spell: Spell) => {
  const m = /RX1-([A-Z]\d{5})/.exec(readFileSync(new URL(name, RW), 'latin1'));
  return `${spell.ids}${m![1]}`;
};

/** A new spell whose patient is a client of VQ201 (date of birth 1941-03-12, as in every fixture). */
async function clientSpell(): Promise<Spell> {
  const spell = newSpell();
  await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
  return spell;
}

async function webhookFor(spell: Spell) {
  const hook = await hooks.waitFor((r) => r.path === HOOK && (r.body as any)?.patient?.nhsNumber === spell.nhs, 20_000);
  expect(hook.signatureValid).toBe(true);
  return hook.body as Record<string, any>;
}

// ---- the ACK table -----------------------------------------------------------------------------------------

describe('ACKs over HTTP, exactly as the CONTRACT.md table says', () => {
  it('a stored message is AA 200: MSA-2 is the inbound MSH-10, the ACK answers the sender, the row is accepted', async () => {
    const spell = newSpell();
    const res = await post(a01(spell));
    expectAck(res, { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    const msh = parseHl7(res.text).msh;
    expect(msh.component(9, 1)).toBe('ACK');
    expect(msh.component(9, 2)).toBe('A01');
    expect(msh.field(5)).toBe('PAS'); // receiving application = the inbound MSH-3
    expect(msh.field(6)).toBe('RX1'); // receiving facility = the inbound MSH-4
    expect(msh.field(12)).toBe('2.4');
    const rows = await rowsOf({ controlId: controlIdOf(spell) });
    expect(rows).toMatchObject([
      { transport: 'http', status: 'accepted', is_primary: true, ack_code: 'AA', http_status: 200 },
    ]);
  });

  it('an exact resend is AA 200 again (the stored outcome), even with other segment separators: one row, one event', async () => {
    const spell = newSpell();
    const text = a01(spell);
    expectAck(await post(text), { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    expectAck(await post(text), { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    expectAck(await post(text.replaceAll('\r', '\r\n') + '\r\n'), {
      status: 200,
      code: 'AA',
      controlId: controlIdOf(spell),
    });
    expect(await rowsOf({ controlId: controlIdOf(spell) })).toHaveLength(1);
    expect((await admissionOf(svc, spell.visit))!.events).toHaveLength(1);
  });

  it('a body wrapped in MLLP bytes is accepted, and the same message sent bare is its exact resend', async () => {
    const spell = newSpell();
    const text = a01(spell);
    expectAck(await post(`\u000b${text}\u001c\r`), { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    expectAck(await post(text), { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    expect(await rowsOf({ controlId: controlIdOf(spell) })).toHaveLength(1);
  });

  it('the same MSH-4 and MSH-10 with different content is AE 409 (ERR 205 at MSH-10); the first message stands', async () => {
    const spell = newSpell();
    expectAck(await post(a01(spell)), { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    const changed = a01(spell, [['Ward 12 Elderly Care', 'Ward 14 Stroke']]);
    const res = await post(changed);
    expectAck(res, {
      status: 409,
      code: 'AE',
      controlId: controlIdOf(spell),
      err: { hl7Code: '205', location: 'MSH-10', message: /already used by this hospital for a different message/ },
    });
    // asked again, the conflicting message gets the same answer
    expect((await post(changed)).status).toBe(409);
    const rows = await rowsOf({ controlId: controlIdOf(spell) });
    expect(rows[0]).toMatchObject({ status: 'accepted', is_primary: true });
    expect(rows.slice(1)).toEqual([
      expect.objectContaining({
        status: 'rejected',
        is_primary: false,
        http_status: 409,
        error_code: 'duplicate-control-id',
        error_location: 'MSH-10',
      }),
      expect.objectContaining({ status: 'rejected', is_primary: false, http_status: 409 }),
    ]);
    expect((await admissionOf(svc, spell.visit))!.events).toHaveLength(1);
  });

  it('no usable PID-3 or PID-2 identifier is AE 422 (ERR 101 at PID-3), stored as rejected; a resend gets the same answer', async () => {
    const spell = newSpell();
    const text = a01(spell, [[`${spell.nhs}^^^NHS^NH~RX1001234^^^RX1^MR`, '']]);
    const expected: Expected = {
      status: 422,
      code: 'AE',
      controlId: controlIdOf(spell),
      err: { hl7Code: '101', location: 'PID-3', message: /no patient identifier in PID-3 or PID-2/ },
    };
    expectAck(await post(text), expected);
    expectAck(await post(text), expected);
    expect(await rowsOf({ controlId: controlIdOf(spell) })).toEqual([
      expect.objectContaining({
        status: 'rejected',
        ack_code: 'AE',
        http_status: 422,
        error_code: 'no-patient-identifier',
        error_location: 'PID-3',
      }),
    ]);
    expect(await admissionOf(svc, spell.visit)).toBeUndefined();
  });

  it('no PV1-19 visit number on an admission is AE 422 (ERR 101 at PV1-19), stored as rejected', async () => {
    const spell = newSpell();
    const res = await post(a01(spell, [[`${spell.visit}^^^RX1^VN`, '']]));
    expectAck(res, {
      status: 422,
      code: 'AE',
      controlId: controlIdOf(spell),
      err: { hl7Code: '101', location: 'PV1-19', message: /PV1-19 visit number \(hospital spell\) is missing/ },
    });
    expect(await rowsOf({ controlId: controlIdOf(spell) })).toEqual([
      expect.objectContaining({
        status: 'rejected',
        error_code: 'no-visit-number',
        error_reason: expect.stringMatching(/PV1-19/),
      }),
    ]);
  });

  it.each([
    ['EVN-2', '|20261122092500', '|20261322092500'],
    ['PID-7', '|19410312|', '|19410231|'],
    ['PV1-44', '|20261122092000\rPV2|', '|2026112225\rPV2|'],
    ['MSH-7', '|20261122093000|', '|22/11/2026 09:30|'],
  ])(
    'a bad date in %s is AE 422 (ERR 102 at that field), stored as rejected',
    async (field: string, from: string, to: string) => {
      const spell = newSpell();
      const text = a01(spell, [[from, to]]);
      expect(text).toContain(to);
      const res = await post(text);
      expectAck(res, {
        status: 422,
        code: 'AE',
        controlId: controlIdOf(spell),
        err: { hl7Code: '102', location: field, message: new RegExp(`^${field} is not an HL7 date`) },
      });
      expect(await rowsOf({ controlId: controlIdOf(spell) })).toEqual([
        expect.objectContaining({ status: 'rejected', error_code: 'bad-date', error_location: field }),
      ]);
    },
  );

  it('a message without MSH is AR 400 (ERR 100), and is stored as rejected all the same', async () => {
    const text = `EVN|A01|20261122092500\rPID|1||9995260182^^^NHS^NH||SMITH^MARGARET\rZTG|${newSpell().ids}`;
    const res = await post(text);
    expectAck(res, {
      status: 400,
      code: 'AR',
      controlId: '',
      err: { hl7Code: '100', location: 'MSH', message: /does not start with an MSH segment/ },
    });
    expect(await rowsOf({ raw: text })).toEqual([
      expect.objectContaining({
        status: 'rejected',
        ack_code: 'AR',
        http_status: 400,
        error_code: 'no-msh',
        hospital_ods: null,
      }),
    ]);
  });

  it('an MSH-9 that is not ADT is AR 400 (ERR 200 at MSH-9); the rejection does not use up its MSH-10', async () => {
    const spell = newSpell();
    const oru = a01(spell, [['ADT^A01^ADT_A01', 'ORU^R01^ORU_R01']]);
    expectAck(await post(oru), {
      status: 400,
      code: 'AR',
      controlId: controlIdOf(spell),
      err: { hl7Code: '200', location: 'MSH-9', message: /MSH-9 message type ORU is not supported: only ADT/ },
    });
    expect(await rowsOf({ controlId: controlIdOf(spell) })).toEqual([
      expect.objectContaining({
        status: 'rejected',
        is_primary: false,
        ack_code: 'AR',
        http_status: 400,
        error_code: 'unsupported-message-type',
      }),
    ]);
    // the hospital corrects it and sends it again under the same MSH-10: accepted
    expectAck(await post(a01(spell)), { status: 200, code: 'AA', controlId: controlIdOf(spell) });
  });

  it.each(['2.0', '2.9', '2.8.3', '3.0', ''])(
    'MSH-12 version %j is AR 400 (ERR 203 at MSH-12), stored as rejected',
    async (version) => {
      const spell = newSpell();
      const res = await post(a01(spell, [['|P|2.4|', `|P|${version}|`]]));
      expectAck(res, {
        status: 400,
        code: 'AR',
        controlId: controlIdOf(spell),
        err: {
          hl7Code: '203',
          location: 'MSH-12',
          message:
            /^MSH-12 version .* is not supported: 2\.1, 2\.2, 2\.3, 2\.3\.1, 2\.4, 2\.5, 2\.5\.1, 2\.6, 2\.7, 2\.7\.1, 2\.8, 2\.8\.1 or 2\.8\.2$/,
        },
      });
      expect(await rowsOf({ controlId: controlIdOf(spell) })).toEqual([
        expect.objectContaining({ status: 'rejected', error_code: 'unsupported-version' }),
      ]);
    },
  );

  it("an MSH-4 that is not this key's hospital is AR 403 (ERR 204 at MSH-4), stored as rejected", async () => {
    const spell = newSpell();
    const res = await post(a01(spell), { key: rr8.apiKey });
    expectAck(res, {
      status: 403,
      code: 'AR',
      controlId: controlIdOf(spell),
      err: { hl7Code: '204', location: 'MSH-4', message: /MSH-4 RX1 is not the hospital of this API key/ },
    });
    expect(await rowsOf({ controlId: controlIdOf(spell) })).toEqual([
      expect.objectContaining({
        status: 'rejected',
        is_primary: false,
        http_status: 403,
        error_code: 'sender-mismatch',
      }),
    ]);
    // RX1 itself may still send it
    expectAck(await post(a01(spell)), { status: 200, code: 'AA', controlId: controlIdOf(spell) });
  });

  it.each([
    ['no key', null],
    ['an unknown key', 'aa_h_not-a-key-anyone-was-given'],
  ])('%s is 401 with an AR ACK (ERR 204); nothing from an unauthenticated sender is stored', async (_what, key) => {
    const spell = newSpell();
    const res = await post(a01(spell), { key });
    expectAck(res, {
      status: 401,
      code: 'AR',
      controlId: controlIdOf(spell),
      err: { hl7Code: '204', message: /valid hospital API key is required/ },
    });
    expect(await rowsOf({ controlId: controlIdOf(spell) })).toEqual([]);
  });

  it('a provider key (or the operator token) is 403 with an AR ACK: only hospitals send messages', async () => {
    const spell = newSpell();
    for (const key of [provider.apiKey, svc.adminToken]) {
      expectAck(await post(a01(spell), { key }), {
        status: 403,
        code: 'AR',
        controlId: controlIdOf(spell),
        err: { hl7Code: '204', message: /Only a hospital key may send messages/ },
      });
    }
  });

  it('a body over 1 MiB is 413 problem+json with no ACK; a message of exactly 1 MiB is accepted', async () => {
    const spell = newSpell();
    const base = a01(spell) + '\rZPD|';
    const exact = base + 'x'.repeat(1024 * 1024 - Buffer.byteLength(base));
    expect(Buffer.byteLength(exact)).toBe(1024 * 1024);
    const over = await post(exact + 'x');
    expect(over.status).toBe(413);
    expect(over.contentType).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(over.text)).toMatchObject({ status: 413, title: 'Payload too large' });
    expect(over.text).not.toContain('MSA');
    expectAck(await post(exact), { status: 200, code: 'AA', controlId: controlIdOf(spell) });
  });

  it('text/plain (with or without a charset) is accepted; another content type is 415 problem+json', async () => {
    const one = newSpell();
    expectAck(await post(a01(one), { contentType: 'text/plain' }), {
      status: 200,
      code: 'AA',
      controlId: controlIdOf(one),
    });
    const two = newSpell();
    expectAck(await post(a01(two), { contentType: 'text/plain; charset=utf-8' }), {
      status: 200,
      code: 'AA',
      controlId: controlIdOf(two),
    });
    for (const type of ['application/json', 'application/octet-stream', 'text/html']) {
      const res = await post(a01(newSpell()), { contentType: type });
      expect(res.status).toBe(415);
      expect(res.contentType).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.text)).toMatchObject({ status: 415 });
    }
  });

  it('an NHS number failing the modulus 11 check is AA, and the admission ends unmatched with the reason for operators', async () => {
    const spell = newSpell();
    const bad = `${spell.nhs.slice(0, 9)}${(Number(spell.nhs[9]) + 1) % 10}`;
    const res = await post(a01(spell, [[`${spell.nhs}^^^NHS^NH`, `${bad}^^^NHS^NH`]]));
    expectAck(res, { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    const adm = await eventually(
      async () => {
        const a = await admissionOf(svc, spell.visit);
        return a?.status === 'unmatched' && a;
      },
      20_000,
      'admission unmatched',
    );
    expect(adm.statusReason).toMatch(/^NHS number fails the modulus 11 check/);
    expect(adm.statusReason).not.toContain(bad);
  });

  describe('enhanced mode (MSH-15 present): CA / CE / CR with the same HTTP statuses', () => {
    it('stored: CA 200; exact resend: CA 200', async () => {
      const spell = newSpell();
      const text = a01(spell, [ENHANCED]);
      expectAck(await post(text), { status: 200, code: 'CA', controlId: controlIdOf(spell) });
      expectAck(await post(text), { status: 200, code: 'CA', controlId: controlIdOf(spell) });
      expect(await rowsOf({ controlId: controlIdOf(spell) })).toEqual([
        expect.objectContaining({ status: 'accepted', ack_code: 'CA' }),
      ]);
    });

    it('content error: CE 422; reused MSH-10: CE 409', async () => {
      const spell = newSpell();
      expectAck(await post(a01(spell, [ENHANCED, [`${spell.visit}^^^RX1^VN`, '']])), {
        status: 422,
        code: 'CE',
        controlId: controlIdOf(spell),
        err: { hl7Code: '101', location: 'PV1-19', message: /PV1-19/ },
      });
      expectAck(await post(a01(spell, [ENHANCED])), {
        status: 409,
        code: 'CE',
        controlId: controlIdOf(spell),
        err: { hl7Code: '205', location: 'MSH-10', message: /already used/ },
      });
    });

    it('header errors: CR 400; wrong hospital: CR 403; no key: CR 401', async () => {
      const spell = newSpell();
      expectAck(await post(a01(spell, [ENHANCED, ['|P|2.4|', '|P|2.9|']])), {
        status: 400,
        code: 'CR',
        controlId: controlIdOf(spell),
        err: { hl7Code: '203', location: 'MSH-12', message: /MSH-12/ },
      });
      expectAck(await post(a01(spell, [ENHANCED]), { key: rr8.apiKey }), {
        status: 403,
        code: 'CR',
        controlId: controlIdOf(spell),
        err: { hl7Code: '204', location: 'MSH-4', message: /MSH-4/ },
      });
      expectAck(await post(a01(spell, [ENHANCED]), { key: null }), {
        status: 401,
        code: 'CR',
        controlId: controlIdOf(spell),
        err: { hl7Code: '204', message: /API key/ },
      });
    });

    it('over HTTP an ACK is returned even when MSH-15 is NE', async () => {
      const spell = newSpell();
      const res = await post(a01(spell, [['|P|2.4|||||GBR|', '|P|2.4|||NE|NE|GBR|']]));
      expectAck(res, { status: 200, code: 'CA', controlId: controlIdOf(spell) });
    });
  });

  it('operators list rejected messages with their reasons at GET /v1/messages; no raw content, nobody else may', async () => {
    const spell = newSpell();
    await post(a01(spell, [['|P|2.4|', '|P|2.9|']]));
    const res = await svc.api('GET', `/v1/messages?status=rejected&hospital=RX1&controlId=${controlIdOf(spell)}`, {
      key: svc.adminToken,
    });
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      expect.objectContaining({
        transport: 'http',
        hospitalOds: 'RX1',
        messageControlId: controlIdOf(spell),
        status: 'rejected',
        ackCode: 'AR',
        httpStatus: 400,
        error: {
          code: 'unsupported-version',
          reason: expect.stringMatching(/MSH-12 version 2\.9/),
          location: 'MSH-12',
        },
      }),
    ]);
    expect(res.text).not.toContain(spell.nhs);
    const all = await svc.api('GET', '/v1/messages?status=rejected&limit=1000', { key: svc.adminToken });
    expect(all.body.items.every((m: any) => m.status === 'rejected' && m.error?.reason)).toBe(true);
    expect((await svc.api('GET', '/v1/messages', { key: provider.apiKey })).status).toBe(403);
    expect((await svc.api('GET', '/v1/messages', { key: rx1.apiKey })).status).toBe(403);
    expect((await svc.api('GET', '/v1/messages?status=nope', { key: svc.adminToken })).status).toBe(400);
  });
});

// ---- real feeds ------------------------------------------------------------------------------------------

describe('real feeds, as a user sees them', () => {
  it.each([
    ['CR', '\r'],
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('%s segment separators: the admission gets its ward and admission time', async (_name, sep) => {
    const spell = newSpell();
    const res = await post(a01(spell).split('\r').join(sep) + sep);
    expectAck(res, { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    const adm = await eventually(
      async () => {
        const a = await admissionOf(svc, spell.visit);
        return a?.status === 'no-care-package' && a;
      },
      20_000,
      'admission recorded',
    );
    expect(adm.location).toMatchObject({ ward: 'Ward 12 Elderly Care', bed: '12', pointOfCare: 'RX1WD12' });
    expect((adm as any).admittedAt).toBe('2026-11-22T09:20:00.000Z');
  });

  it('a messy feed (components in MSH-4, PID-3 in odd order with a spaced NHS number, escapes, Z-segments, enhanced mode) alerts with the decoded name and ward', async () => {
    const spell = await clientSpell();
    const res = await post(rw('rw-messy-a01.hl7', spell));
    expectAck(res, { status: 200, code: 'CA', controlId: rwControlId('rw-messy-a01.hl7', spell) });
    const body = await webhookFor(spell);
    expect(body).toMatchObject({
      type: 'admission',
      patient: { nhsNumber: spell.nhs, familyName: 'SMITH', givenName: 'SIÂN', dateOfBirth: '1941-03-12' },
      hospital: { odsCode: 'RX1', name: 'Leeds General Infirmary' },
      location: { ward: 'A&E Majors | Ward 12', bed: '12' },
    });
  });

  it('custom encoding characters (MSH-1 "!", MSH-2 "@%/*"): escapes decode to this message\'s delimiters', async () => {
    const spell = await clientSpell();
    const res = await post(rw('rw-custom-delims-a01.hl7', spell));
    expectAck(res, { status: 200, code: 'AA', controlId: rwControlId('rw-custom-delims-a01.hl7', spell) });
    const body = await webhookFor(spell);
    expect(body.patient).toMatchObject({ familyName: "O'BRIEN-SMITH", givenName: 'MARGARET*MAY' });
    expect(body.location).toMatchObject({ ward: 'Ward 12 @ Elderly Care', bed: '12' });
  });

  it('MSH-18 8859/1: Latin-1 bytes (CRLF separated) reach the webhook as the right characters', async () => {
    const spell = await clientSpell();
    const bytes = Buffer.from(rw('rw-latin1-a01.hl7', spell, '\r\n'), 'latin1');
    expect(bytes.includes(0xcb)).toBe(true);
    expectAck(await post(bytes), { status: 200, code: 'AA', controlId: rwControlId('rw-latin1-a01.hl7', spell) });
    const body = await webhookFor(spell);
    expect(body.patient).toMatchObject({ familyName: 'BRONTË', givenName: 'ZOë' });
    expect(body.location.ward).toBe('Ward 12 Café Side');
  });

  it('v2.2 with the NHS number in PID-2 (spaced) and minute-precision times: matched and alerted', async () => {
    const spell = await clientSpell();
    expectAck(await post(rw('rw-v22-pid2-a01.hl7', spell)), {
      status: 200,
      code: 'AA',
      controlId: rwControlId('rw-v22-pid2-a01.hl7', spell),
    });
    const body = await webhookFor(spell);
    expect(body.patient).toMatchObject({ nhsNumber: spell.nhs, familyName: 'SMITH', givenName: 'MARGARET' });
    expect(body.location).toMatchObject({ ward: 'RX1WD12', bed: '12' });
    expect((await admissionOf(svc, spell.visit))!.events).toEqual([
      expect.objectContaining({ type: 'A01', at: '2026-11-22T09:25:00.000Z' }),
    ]);
  });

  it('an inpatient A04 with the NHS number known only by its OID, times with offsets and BST: an admission', async () => {
    const spell = await clientSpell();
    const name = 'rw-oid-a04-inpatient.hl7';
    expectAck(await post(rw(name, spell)), { status: 200, code: 'AA', controlId: rwControlId(name, spell) });
    const body = await webhookFor(spell);
    expect(body).toMatchObject({ type: 'admission', location: { ward: 'Ward 7 Orthopaedics & Trauma', bed: '4' } });
    const adm = await eventually(
      async () => {
        const a = await admissionOf(svc, spell.visit);
        return (a as any)?.admittedAt && a;
      },
      20_000,
      'admittedAt',
    );
    expect((adm as any).admittedAt).toBe('2026-07-15T08:20:00.000Z'); // 09:20 BST, no offset sent
    expect(adm.events).toEqual([expect.objectContaining({ type: 'A04', at: '2026-07-15T08:25:00.000Z' })]);
  });

  it('an A08 with a Z-segment before PID and CX-5 NHSNMBR updates the ward and the expected discharge date', async () => {
    const spell = newSpell();
    expectAck(await post(a01(spell)), { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    const name = 'rw-zsegment-before-pid-a08.hl7';
    expectAck(await post(rw(name, spell)), { status: 200, code: 'AA', controlId: rwControlId(name, spell) });
    const adm = await eventually(
      async () => {
        const a = (await admissionOf(svc, spell.visit)) as any;
        return a?.expectedDischargeDate === '2026-11-26' && a?.location?.ward === 'Ward 7 Orthopaedics' && a;
      },
      20_000,
      'A08 applied',
    );
    expect(adm.events.map((e: any) => e.type)).toEqual(['A01', 'A08']);
  });

  it('a lower-case MSH-4 is the same hospital: accepted, filed under the registered ODS code', async () => {
    const spell = newSpell();
    const res = await post(a01(spell, [['|PAS|RX1|', '|PAS|rx1|']]));
    expectAck(res, { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    expect(await rowsOf({ controlId: controlIdOf(spell) })).toEqual([
      expect.objectContaining({ status: 'accepted', hospital_ods: 'RX1' }),
    ]);
    expect(await admissionOf(svc, spell.visit)).toBeDefined();
  });

  it.each(['2.1', '2.2', '2.3', '2.3.1', '2.4', '2.5', '2.5.1', '2.6', '2.7', '2.7.1', '2.8', '2.8.1', '2.8.2'])(
    'version %s is accepted',
    async (version) => {
      const spell = newSpell();
      expectAck(await post(a01(spell, [['|P|2.4|', `|P|${version}|`]])), {
        status: 200,
        code: 'AA',
        controlId: controlIdOf(spell),
      });
      expect(parseHl7((await post(a01(spell, [['|P|2.4|', `|P|${version}|`]]))).text).msh.field(12)).toBe(version);
    },
  );

  it.each([
    ['2026', '2026-01-01T00:00:00.000Z'],
    ['202611', '2026-11-01T00:00:00.000Z'],
    ['20261122', '2026-11-22T00:00:00.000Z'],
    ['2026112209', '2026-11-22T09:00:00.000Z'],
    ['202611220925', '2026-11-22T09:25:00.000Z'],
    ['20261122092530', '2026-11-22T09:25:30.000Z'],
    ['20261122092530.1', '2026-11-22T09:25:30.100Z'],
    ['20261122092530.1234', '2026-11-22T09:25:30.123Z'],
    ['20260715092530', '2026-07-15T08:25:30.000Z'],
    ['20260715092530+0000', '2026-07-15T09:25:30.000Z'],
    ['20261122092530-0500', '2026-11-22T14:25:30.000Z'],
    ['20261122092530.12+0530', '2026-11-22T03:55:30.120Z'],
    ['202611220925+0100', '2026-11-22T08:25:00.000Z'],
    ['20260329013000', '2026-03-29T01:30:00.000Z'],
    ['20261025013000', '2026-10-25T00:30:00.000Z'],
  ])('EVN-2 %s is the event time %s', async (value, instant) => {
    const spell = newSpell();
    expectAck(await post(a01(spell, [['|20261122092500', `|${value}`]])), {
      status: 200,
      code: 'AA',
      controlId: controlIdOf(spell),
    });
    const adm = await admissionOf(svc, spell.visit);
    expect(adm!.events).toEqual([
      expect.objectContaining({ type: 'A01', at: instant, messageControlId: controlIdOf(spell) }),
    ]);
  });

  it.each([
    ['CX-5 NH', (n: string) => `|${n}^^^NHS^NH|`],
    ['CX-5 NHSNMBR', (n: string) => `|${n}^^^^NHSNMBR|`],
    ['CX-5 NHS (some feeds)', (n: string) => `|${n}^^^^NHS|`],
    ['CX-4 NHS only', (n: string) => `|RX1001234^^^RX1^MR~${n}^^^NHS|`],
    ['CX-4.1 the NHS number OID', (n: string) => `|${n}^^^2.16.840.1.113883.2.1.4.1|`],
    ['CX-4.2 the NHS number OID', (n: string) => `|RX1001234^^^RX1^MR~${n}^^^&2.16.840.1.113883.2.1.4.1&ISO|`],
    ['spaces inside', (n: string) => `|${spaced(n)}^^^NHS^NH|`],
    ['after a local id', (n: string) => `|RX1001234^^^RX1^MR~${n}^^^NHS^NH|`],
    ['PID-2 (older feeds)', (n: string) => `${n}|RX1001234^^^RX1^MR|`],
  ])('the NHS number is found by %s: the client is matched and alerted', async (_how, pid) => {
    const spell = await clientSpell();
    const text = a01(spell, [[`|${spell.nhs}^^^NHS^NH~RX1001234^^^RX1^MR|`, pid(spell.nhs)]]);
    expect(text).toContain(spell.nhs.slice(0, 3));
    expectAck(await post(text), { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    const body = await webhookFor(spell);
    expect(body.patient.nhsNumber).toBe(spell.nhs);
  });

  it('a patient known only by a local id is accepted and ends unmatched: "no NHS number in PID-3 or PID-2"', async () => {
    const spell = newSpell();
    const res = await post(a01(spell, [[`|${spell.nhs}^^^NHS^NH~RX1001234^^^RX1^MR|`, '|RX1001234^^^RX1^MR|']]));
    expectAck(res, { status: 200, code: 'AA', controlId: controlIdOf(spell) });
    const adm = await eventually(
      async () => {
        const a = await admissionOf(svc, spell.visit);
        return a?.status === 'unmatched' && a;
      },
      20_000,
      'unmatched',
    );
    expect(adm.statusReason).toBe('no NHS number in PID-3 or PID-2');
  });
});
