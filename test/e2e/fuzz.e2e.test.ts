/**
 * Issue "HL7 v2 and FHIR ingestion that never loses a message", item 8: bad input never crashes and never lies.
 *
 * A seeded fuzz run (set FUZZ_SEED to replay one; the seed is in the test name) feeds random bytes and mutated
 * fixtures (byte flips, truncations, duplicated and removed separators, huge fields, shuffled segments, stray
 * escapes and control bytes, broken headers) through `POST /v1/hl7`, one MLLP connection and, for good measure,
 * `POST /v1/fhir/Encounter`, and checks that:
 * - every answer is well formed, and no 5xx is ever returned (not even 503: the database is up, so "retry later"
 *   would be a lie);
 * - every AA/CA names a message (ACK MSH-6 = its MSH-4, MSA-2 = its MSH-10) stored in PostgreSQL as accepted;
 * - the MLLP connection is never dropped, and ACKs keep arriving in order (a known message after each batch);
 * - the process stays up and its heap, after GC, stays within a bound of where it started.
 */
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAck } from '../../src/hl7/ack.js';
import { parseHl7 } from '../../src/hl7/message.js';
import { fixture } from '../support/fixtures.js';
import { LOOPBACK_MLLP, registerHospital } from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const HTTP_CASES = 260;
const MLLP_CASES = 260;
const FHIR_CASES = 80;
const MLLP_BATCH = 10;
const MAX_BYTES = 1024 * 1024;
/** Heap growth (after GC) allowed over the whole run. */
const HEAP_BOUND_BYTES = 64 * 1024 * 1024;

let svc: TestService;
let db: postgres.Sql;
let rx1: Awaited<ReturnType<typeof registerHospital>>;

beforeAll(async () => {
  // the api role only: ingestion is under test, and nobody is any provider's client here
  svc = await startTestService({ roles: ['api'] });
  db = postgres(svc.db.url, { max: 2, onnotice: () => undefined });
  rx1 = await registerHospital(svc, 'RX1', 'Leeds General Infirmary', LOOPBACK_MLLP);
  await registerHospital(svc, 'RR8', 'St James University Hospital', LOOPBACK_MLLP);
});
afterAll(async () => {
  await db?.end();
  await svc?.stop();
});

// ---- a seeded PRNG and the mutators ---------------------------------------------------------------------

/** mulberry32: small, fast, good enough to drive a fuzzer, and reproducible from a seed. */
function prng(seed: number) {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const RW = new URL('../fixtures/hl7/', import.meta.url);

/** Every fixture as bytes, segments joined by CR: the NHS England-shaped ones, then the real-world-shaped `rw-` ones. */
function corpus(): Buffer[] {
  const files = readdirSync(RW).filter((f) => f.endsWith('.hl7'));
  const shared = files.filter((f) => !f.startsWith('rw-')).map((f) => Buffer.from(fixture(f), 'utf8'));
  const rw = files
    .filter((f) => f.startsWith('rw-'))
    .map((f) =>
      Buffer.from(
        readFileSync(new URL(f, RW), 'latin1')
          .split(/\r\n|\r|\n/)
          .filter(Boolean)
          .join('\r'),
        'latin1',
      ),
    );
  return [...shared, ...rw];
}

const SEPARATORS = [...'|^~\\&\r\n!@%/*'].map((c) => c.charCodeAt(0));
const ESCAPES = [
  '\\X00\\',
  '\\X0B\\',
  '\\X1C\\',
  '\\XZZ\\',
  '\\X\\',
  '\\Z99\\',
  '\\',
  '\\.br\\',
  '\\F\\',
  '\\XC3\\',
  '\\XFFFE\\',
  '\\H\\\\N\\',
];
const CONTROL = [0x00, 0x0b, 0x1c, 0x0d, 0x0a, 0x09, 0x7f, 0xff, 0xfe, 0xef, 0xbb, 0xbf, 0x80];

const insertAt = (b: Buffer, at: number, what: Buffer): Buffer =>
  Buffer.concat([b.subarray(0, at), what, b.subarray(at)]);

const MUTATORS: Record<string, (b: Buffer, r: Rng) => Buffer> = {
  flip(b, r) {
    const out = Buffer.from(b);
    for (let k = 1 + r.int(8); k > 0 && out.length > 0; k--) out[r.int(out.length)] = r.int(256);
    return out;
  },
  truncate: (b, r) => b.subarray(0, r.int(b.length + 1)),
  duplicateSeparators(b, r) {
    let out = b;
    for (let k = 1 + r.int(6); k > 0; k--)
      out = insertAt(out, r.int(out.length + 1), Buffer.from([r.pick(SEPARATORS)]));
    return out;
  },
  removeSeparators(b, r) {
    const sep = r.pick(SEPARATORS);
    const all = r.next() < 0.3;
    return Buffer.from(b.filter((byte) => byte !== sep || (!all && r.next() < 0.7)));
  },
  hugeField(b, r) {
    const size = 10_000 + r.int(500_000);
    const at = Math.max(0, b.indexOf(0x7c, r.int(b.length)));
    return insertAt(b, at + 1, Buffer.alloc(size, r.pick([0x41, 0x7e, 0x5e, 0x5c, 0x39])));
  },
  shuffleSegments(b, r) {
    const segs = b.toString('latin1').split('\r');
    const out: string[] = [];
    for (let k = segs.length + r.int(4) - 2; k > 0; k--) out.push(r.pick(segs));
    if (r.next() < 0.5 && segs[0]) out.unshift(segs[0]); // keep an MSH first, often
    return Buffer.from(out.join(r.pick(['\r', '\n', '\r\n', ''])), 'latin1');
  },
  escapes(b, r) {
    let out = b;
    for (let k = 1 + r.int(4); k > 0; k--)
      out = insertAt(out, r.int(out.length + 1), Buffer.from(r.pick(ESCAPES), 'latin1'));
    return out;
  },
  controlBytes(b, r) {
    let out = b;
    for (let k = 1 + r.int(4); k > 0; k--) out = insertAt(out, r.int(out.length + 1), Buffer.from([r.pick(CONTROL)]));
    return out;
  },
  header(b, r) {
    const text = b.toString('latin1');
    const eol = text.indexOf('\r') === -1 ? text.length : text.indexOf('\r');
    const fields = text.slice(0, eol).split('|');
    const n = 2 + r.int(17);
    fields[n - 1] = r.pick([
      '',
      'AL',
      'NE',
      'ER',
      'SU',
      'XX',
      '8859/1',
      'ISO IR100',
      '2.2',
      '2.5.1',
      '2.9',
      'ADT^A01',
      'ORU^R01',
      '""',
      '^~\\&',
      '^^^',
      'RX1',
      'RR8',
      'ZZ9',
      'x'.repeat(300),
    ]);
    return Buffer.from(fields.join('|') + text.slice(eol), 'latin1');
  },
  randomBytes(_b, r) {
    const bytes = Buffer.alloc(r.int(3000));
    for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
    return r.next() < 0.5 ? Buffer.concat([Buffer.from('MSH|^~\\&|PAS|RX1|AA|NHSE|20261122||ADT^A01|'), bytes]) : bytes;
  },
};
const MUTATOR_NAMES = Object.keys(MUTATORS);

/** One fuzz case: a fixture given its own MSH-10 and visit number, then mutated one to three times. */
function fuzzCase(r: Rng, fixtures: Buffer[], tag: string): { bytes: Buffer; how: string[] } {
  let text = r.pick(fixtures).toString('latin1');
  text = text.replace(/RX1-[A-Z]?\d{5,6}/, `FZ-${tag}`).replace(/SPL\d{7}/g, `FZ${tag}`);
  let bytes: Buffer = Buffer.from(text, 'latin1');
  const how: string[] = [];
  if (r.next() < 0.12) return { bytes, how: ['intact'] };
  for (let k = 1 + r.int(3); k > 0; k--) {
    const name = r.pick(MUTATOR_NAMES);
    how.push(name);
    bytes = MUTATORS[name]!(bytes, r);
  }
  // over 1 MiB is answered 413 / a closed connection, tested elsewhere: keep every case a message
  return { bytes: bytes.length > MAX_BYTES ? bytes.subarray(0, MAX_BYTES) : bytes, how };
}

// ---- what every answer must satisfy ----------------------------------------------------------------------

/** Acceptances to verify against PostgreSQL: ACK MSH-6 (the message's MSH-4) and MSA-2 (its MSH-10). */
const promised: { hospital: string; controlId: string; via: string }[] = [];

function checkAck(text: string, via: string): string {
  const ack = parseAck(text);
  expect(['AA', 'AE', 'AR', 'CA', 'CE', 'CR'], `${via}: ${text}`).toContain(ack.code);
  if (ack.code === 'AA' || ack.code === 'CA') {
    expect(ack.errorDetails, via).toEqual([]);
    promised.push({ hospital: parseHl7(text).msh.field(6), controlId: ack.controlId, via });
  } else {
    expect(ack.errorDetails.length, `${via}: a refusal says why`).toBeGreaterThan(0);
  }
  return ack.code;
}

/** A raw MLLP connection that collects ACK frames. */
class Mllp {
  readonly frames: Buffer[] = [];
  closed = false;
  #buf = Buffer.alloc(0);
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      for (;;) {
        const start = this.#buf.indexOf(0x0b);
        const end = this.#buf.indexOf(0x1c, start + 1);
        if (start === -1 || end === -1 || end + 1 >= this.#buf.length) return;
        this.frames.push(Buffer.from(this.#buf.subarray(start + 1, end)));
        this.#buf = this.#buf.subarray(end + 2);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closed = true));
  }
  static connect(port: number): Promise<Mllp> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new Mllp(s)));
      s.once('error', reject);
    });
  }
  send(payload: Buffer): void {
    this.socket.write(Buffer.concat([Buffer.from([0x0b]), payload, Buffer.from([0x1c, 0x0d])]));
  }
  async until(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.closed) throw new Error(`MLLP connection closed while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

// ---- the run ---------------------------------------------------------------------------------------------

describe('bad input never crashes and never lies', () => {
  it(`fuzz (seed ${SEED}): ${HTTP_CASES} HTTP + ${MLLP_CASES} MLLP + ${FHIR_CASES} FHIR cases`, async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const r = prng(SEED);
    const fixtures = corpus();
    const statuses = new Map<number, number>();
    const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
    const failures: string[] = [];

    // warm up (first requests compile routes, open pool connections), then measure
    expect((await fetch(`${svc.baseUrl}/health/live`)).status).toBe(200);
    const heapBefore = heapAfterGc(gc);

    // -- HTTP, a few at a time --
    const cases = Array.from({ length: HTTP_CASES }, (_, i) => fuzzCase(r, fixtures, `${SEED}-H${i}`));
    for (let i = 0; i < cases.length; i += 4) {
      await Promise.all(
        cases.slice(i, i + 4).map(async ({ bytes, how }, j) => {
          const via = `http #${i + j} [${how.join(',')}]`;
          const res = await fetch(`${svc.baseUrl}/v1/hl7`, {
            method: 'POST',
            headers: { authorization: `Bearer ${rx1.apiKey}`, 'content-type': 'x-application/hl7-v2+er7' },
            body: bytes,
          });
          const text = await res.text();
          count(res.status);
          if (res.status >= 500) failures.push(`${via}: HTTP ${res.status} ${text.slice(0, 300)}`);
          if (!res.headers.get('content-type')?.startsWith('x-application/hl7-v2+er7')) {
            failures.push(`${via}: HTTP ${res.status} answered ${res.headers.get('content-type')}`);
            return;
          }
          const code = checkAck(text, via);
          expect(res.status === 200, `${via}: HTTP ${res.status} with ${code}`).toBe(code === 'AA' || code === 'CA');
        }),
      );
    }

    // -- MLLP: batches of fuzz frames, each followed by a known message whose ACK must come after theirs --
    let mllp = await Mllp.connect(svc.mllpPort!);
    const sentinels: string[] = [];
    for (let i = 0; i < MLLP_CASES; i += MLLP_BATCH) {
      const before = mllp.frames.length;
      for (let j = i; j < Math.min(i + MLLP_BATCH, MLLP_CASES); j++) {
        const { bytes } = fuzzCase(r, fixtures, `${SEED}-M${j}`);
        // 0x0B and 0x1C are framing, not content: a frame cannot carry them
        mllp.send(Buffer.from(bytes.filter((b) => b !== 0x0b && b !== 0x1c)));
      }
      const sentinel = `FZ-${SEED}-S${i}`;
      sentinels.push(sentinel);
      mllp.send(
        Buffer.from(fixture('a01-unknown-patient.hl7', { 'RX1-000008': sentinel, SPL0009999: `FZS${SEED}${i}` })),
      );
      await mllp.until(
        () => mllp.frames.slice(before).some((f) => parseAck(f.toString('utf8')).controlId === sentinel),
        `the ACK of ${sentinel}`,
      );
      const acks = mllp.frames.slice(before).map((f) => f.toString('utf8'));
      expect(parseAck(acks.at(-1)!).controlId, 'the known message is acknowledged last: ACKs are in order').toBe(
        sentinel,
      );
      expect(parseAck(acks.at(-1)!).code).toBe('AA');
      acks.forEach((a, k) => checkAck(a, `mllp batch ${i / MLLP_BATCH} ack ${k}`));
      if (mllp.closed) {
        failures.push(`mllp: connection closed during batch ${i / MLLP_BATCH}`);
        mllp = await Mllp.connect(svc.mllpPort!);
      }
    }
    mllp.socket.destroy();

    // -- FHIR: mutated Encounters --
    const encounter = {
      resourceType: 'Encounter',
      identifier: [{ system: 'https://fhir.rx1.nhs.uk/Id/spell-number', value: 'V1' }],
      status: 'in-progress',
      subject: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9995260182' } },
      period: { start: '2026-11-22T09:20:00Z' },
      serviceProvider: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RX1' } },
    };
    for (let i = 0; i < FHIR_CASES; i++) {
      const json = JSON.stringify({
        ...encounter,
        identifier: [{ ...encounter.identifier[0], value: `FZ${SEED}F${i}` }],
      });
      let bytes: Buffer = Buffer.from(json);
      const how = [r.pick(['flip', 'truncate', 'duplicateSeparators', 'controlBytes', 'hugeField', 'intact'])];
      if (how[0] !== 'intact') bytes = MUTATORS[how[0]!]!(bytes, r);
      const via = `fhir #${i} [${how.join(',')}]`;
      const res = await fetch(`${svc.baseUrl}/v1/fhir/Encounter`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rx1.apiKey}`, 'content-type': 'application/fhir+json' },
        body: bytes,
      });
      const text = await res.text();
      count(res.status);
      if (res.status >= 500) failures.push(`${via}: HTTP ${res.status} ${text.slice(0, 300)}`);
      expect([200, 400, 403, 409, 422], `${via}: ${text.slice(0, 300)}`).toContain(res.status);
      expect((JSON.parse(text) as { resourceType: string }).resourceType, via).toBe('OperationOutcome');
    }

    expect(failures).toEqual([]);

    // -- every acceptance is a stored, accepted row --
    const stored = await db<{ hospital_ods: string; message_control_id: string }[]>`
      select hospital_ods, message_control_id from inbound_messages where status = 'accepted' and is_primary`;
    const keys = new Set(stored.map((s) => `${s.hospital_ods}\u0000${s.message_control_id}`));
    const lies = promised.filter((p) => !keys.has(`${p.hospital}\u0000${p.controlId}`));
    expect(lies).toEqual([]);
    const fuzzAccepted = promised.filter((p) => !sentinels.includes(p.controlId)).length;
    // not a vacuous run: a fair share of the mutated messages were still good enough to accept
    expect(fuzzAccepted).toBeGreaterThan(30);
    expect(sentinels.every((s) => keys.has(`RX1\u0000${s}`))).toBe(true);

    // -- still up, still serving, memory bounded --
    expect((await fetch(`${svc.baseUrl}/health/live`)).status).toBe(200);
    const after = await Mllp.connect(svc.mllpPort!);
    after.send(
      Buffer.from(fixture('a01-unknown-patient.hl7', { 'RX1-000008': `FZ-${SEED}-END`, SPL0009999: `FZE${SEED}` })),
    );
    await after.until(() => after.frames.length === 1, 'the last ACK');
    expect(parseAck(after.frames[0]!.toString('utf8')).code).toBe('AA');
    after.socket.destroy();
    const heapAfter = heapAfterGc(gc);
    expect(heapAfter - heapBefore, `heap ${heapBefore} → ${heapAfter}`).toBeLessThan(HEAP_BOUND_BYTES);
    console.log(
      `fuzz seed ${SEED}: ${promised.length} acceptances checked; HTTP statuses ${JSON.stringify(Object.fromEntries(statuses))}; heap ${Math.round(heapBefore / 1e6)} → ${Math.round(heapAfter / 1e6)} MB`,
    );
  }, 120_000);
});
