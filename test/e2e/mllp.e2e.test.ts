/**
 * Issue "HL7 v2 and FHIR ingestion that never loses a message", item 6: the MLLP listener of a running service,
 * driven with raw `node:net` sockets and a deframer written here (not the service's own), so the tests check the
 * wire format rather than agree with the code under test.
 */
import net from 'node:net';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAck, type ParsedAck } from '../../src/hl7/ack.js';
import {
  addContact,
  LOOPBACK_MLLP,
  newSpell,
  registerClient,
  registerHospital,
  registerProvider,
  sendHl7,
  setPolicy,
  spellMessage,
} from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

type Spell = ReturnType<typeof newSpell>;

const IDLE_TIMEOUT_SECONDS = 1.5;
const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

let svc: TestService;
let hooks: WebhookReceiver;
let db: postgres.Sql;
let rx1: Awaited<ReturnType<typeof registerHospital>>;

beforeAll(async () => {
  [svc, hooks] = await Promise.all([
    startTestService({ env: { MLLP_IDLE_TIMEOUT_SECONDS: String(IDLE_TIMEOUT_SECONDS) } }),
    startWebhookReceiver(),
  ]);
  db = postgres(svc.db.url, { max: 2, onnotice: () => undefined });
  rx1 = await registerHospital(svc, 'RX1', 'Leeds General Infirmary', LOOPBACK_MLLP);
  await registerHospital(svc, 'RR8', 'St James University Hospital', LOOPBACK_MLLP);
});
afterAll(async () => {
  await db?.end();
  await svc?.stop();
  await hooks?.close();
});

// ---- a raw MLLP client -------------------------------------------------------------------------------------

/** A raw socket to the service's MLLP port that collects every framed reply, and notes stray bytes. */
class RawClient {
  readonly frames: Buffer[] = [];
  /** bytes received outside `0x0B … 0x1C 0x0D` */
  stray = 0;
  closedAt: number | undefined;
  readonly closed: Promise<void>;
  #buf = Buffer.alloc(0);

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      for (;;) {
        const start = this.#buf.indexOf(VT);
        if (start === -1) {
          this.stray += this.#buf.length;
          this.#buf = Buffer.alloc(0);
          return;
        }
        this.stray += start;
        const end = this.#buf.indexOf(FS, start);
        if (end === -1 || end + 1 >= this.#buf.length) {
          this.#buf = this.#buf.subarray(start);
          return;
        }
        expect(this.#buf[end + 1], 'an ACK frame ends 0x1C 0x0D').toBe(CR);
        this.frames.push(Buffer.from(this.#buf.subarray(start + 1, end)));
        this.#buf = this.#buf.subarray(end + 2);
      }
    });
    socket.on('error', () => undefined); // a reset is a way of closing; tests look at `closed`
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  static connect(): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(svc.mllpPort!, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** Waits until `n` ACKs have arrived in all (or fails after `timeoutMs`); returns them parsed. */
  async acks(n: number, timeoutMs = 15_000): Promise<ParsedAck[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} ACKs, got ${this.frames.length}`);
      if (this.closedAt !== undefined) throw new Error(`connection closed after ${this.frames.length} of ${n} ACKs`);
      await sleep(10);
    }
    return this.frames.map((f) => parseAck(f.toString('utf8')));
  }

  /** Sends one framed message and returns its ACK. */
  async send(message: string): Promise<ParsedAck> {
    const before = this.frames.length;
    await this.write(frame(message));
    return (await this.acks(before + 1))[before]!;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const frame = (message: string | Buffer): Buffer =>
  Buffer.concat([
    Buffer.from([VT]),
    typeof message === 'string' ? Buffer.from(message, 'utf8') : message,
    Buffer.from([FS, CR]),
  ]);

async function withClient<T>(fn: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await RawClient.connect();
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}

/** The a01-admit fixture for a fresh spell, with plain-text edits; its MSH-10 is `${spell.ids}000001`. */
function a01(spell: Spell, edits: [string, string][] = []): string {
  let text = spellMessage('a01-admit.hl7', spell);
  for (const [from, to] of edits) text = text.replace(from, to);
  return text;
}
const cid = (spell: Spell) => `${spell.ids}000001`;

async function rowsOf(controlId: string, hospital = 'RX1') {
  return db<{ transport: string; status: string; is_primary: boolean; ack_code: string; error_code: string | null }[]>`
    select transport, status, is_primary, ack_code, error_code from inbound_messages
    where hospital_ods = ${hospital} and message_control_id = ${controlId} order by id`;
}

// ---- tests -------------------------------------------------------------------------------------------------

describe('MLLP listener against the running service', () => {
  it('answers one framed message with one framed AA (MSA-2 = MSH-10), stored as an mllp message', async () => {
    const spell = newSpell();
    await withClient(async (c) => {
      const ack = await c.send(a01(spell));
      expect(ack).toMatchObject({ code: 'AA', controlId: cid(spell), errors: [] });
      expect(c.stray).toBe(0);
    });
    expect(await rowsOf(cid(spell))).toEqual([
      expect.objectContaining({ transport: 'mllp', status: 'accepted', ack_code: 'AA' }),
    ]);
  });

  it('an admission sent over MLLP reaches the provider like one sent over HTTP', async () => {
    const spell = newSpell();
    const provider = await registerProvider(svc, 'VQ301');
    const contact = await addContact(svc, provider, { name: 'Coordinator', webhookUrl: hooks.url('/VQ301') });
    hooks.setSecret('/VQ301', contact.webhookSecret!);
    await setPolicy(svc, provider, [{ contactIds: [contact.id], channels: ['webhook'], waitSeconds: 600 }]);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    await withClient(async (c) => expect((await c.send(a01(spell))).code).toBe('AA'));
    const hook = await hooks.waitFor((r) => r.path === '/VQ301', 20_000);
    expect(hook.signatureValid).toBe(true);
    expect(hook.body).toMatchObject({
      type: 'admission',
      patient: { nhsNumber: spell.nhs },
      hospital: { odsCode: 'RX1' },
    });
  });

  it('several frames in one TCP chunk are each acknowledged, in the order sent', async () => {
    const spells = Array.from({ length: 5 }, () => newSpell());
    await withClient(async (c) => {
      await c.write(Buffer.concat(spells.map((s) => frame(a01(s)))));
      const acks = await c.acks(5);
      expect(acks.map((a) => [a.code, a.controlId])).toEqual(spells.map((s) => ['AA', cid(s)]));
    });
  });

  it('a frame split across chunks (and a chunk holding the end of one frame and the start of the next) is reassembled', async () => {
    const [one, two] = [newSpell(), newSpell()];
    const bytes = Buffer.concat([frame(a01(one)), frame(a01(two))]);
    const cuts = [1, 7, 60, 200, frame(a01(one)).length + 10, bytes.length - 2, bytes.length];
    await withClient(async (c) => {
      let from = 0;
      for (const cut of cuts) {
        await c.write(bytes.subarray(from, cut));
        from = cut;
        await sleep(20);
      }
      const acks = await c.acks(2);
      expect(acks.map((a) => [a.code, a.controlId])).toEqual([
        ['AA', cid(one)],
        ['AA', cid(two)],
      ]);
    });
    expect(await rowsOf(cid(one))).toHaveLength(1);
  });

  it('a split between 0x1C and 0x0D acknowledges the message once, and the next frame goes on normally', async () => {
    const [one, two] = [newSpell(), newSpell()];
    const first = frame(a01(one));
    await withClient(async (c) => {
      await c.write(first.subarray(0, first.length - 1)); // ... 0x1C
      await sleep(150);
      await c.write(Buffer.concat([first.subarray(first.length - 1), frame(a01(two))])); // 0x0D, next frame
      const acks = await c.acks(2);
      expect(acks.map((a) => a.controlId)).toEqual([cid(one), cid(two)]);
      await sleep(100);
      expect(c.frames).toHaveLength(2);
    });
  });

  it('bytes before 0x0B (and between frames) are discarded', async () => {
    const [one, two] = [newSpell(), newSpell()];
    await withClient(async (c) => {
      await c.write(
        Buffer.concat([
          Buffer.from('GET / HTTP/1.1\r\n\r\nnoise'),
          frame(a01(one)),
          Buffer.from('\r\n\n'),
          frame(a01(two)),
        ]),
      );
      const acks = await c.acks(2);
      expect(acks.map((a) => [a.code, a.controlId])).toEqual([
        ['AA', cid(one)],
        ['AA', cid(two)],
      ]);
    });
  });

  it('a 0x0B inside an unfinished frame abandons it unacknowledged; the new frame is acknowledged', async () => {
    const [lost, kept] = [newSpell(), newSpell()];
    const half = Buffer.from(a01(lost)).subarray(0, 120);
    await withClient(async (c) => {
      await c.write(Buffer.concat([Buffer.from([VT]), half, frame(a01(kept))]));
      const acks = await c.acks(1);
      expect(acks.map((a) => a.controlId)).toEqual([cid(kept)]);
      await sleep(150);
      expect(c.frames).toHaveLength(1);
    });
    expect(await rowsOf(cid(lost))).toHaveLength(0);
  });

  it('a frame over 1 MiB closes the connection with no ACK; a frame of exactly 1 MiB is accepted; others carry on', async () => {
    const exactSpell = newSpell();
    const base = `${a01(exactSpell)}\rZPD|`;
    const exact = base + 'x'.repeat(1024 * 1024 - Buffer.byteLength(base));
    expect(Buffer.byteLength(exact)).toBe(1024 * 1024);
    const bystander = await RawClient.connect();
    try {
      await withClient(async (c) => {
        expect((await c.send(exact)).code).toBe('AA');
      });
      const tooBig = await RawClient.connect();
      const overSpell = newSpell();
      const over = `${a01(overSpell)}\rZPD|${'x'.repeat(1024 * 1024)}`;
      tooBig.socket.write(frame(over), () => undefined);
      await Promise.race([tooBig.closed, sleep(15_000).then(() => expect.fail('connection not closed'))]);
      expect(tooBig.frames).toHaveLength(0);
      expect(await rowsOf(cid(overSpell))).toHaveLength(0);
      // the listener and other connections are unaffected
      const spell = newSpell();
      expect((await bystander.send(a01(spell))).code).toBe('AA');
    } finally {
      bystander.destroy();
    }
  });

  it(`an idle connection is closed after MLLP_IDLE_TIMEOUT_SECONDS (${IDLE_TIMEOUT_SECONDS} s here); a busy one is not`, async () => {
    const idle = await RawClient.connect();
    const busy = await RawClient.connect();
    const openedAt = Date.now();
    try {
      // busy sends a message every 500 ms for 3 s: never idle for 1.5 s
      for (let i = 0; i < 6; i++) {
        expect((await busy.send(a01(newSpell()))).code).toBe('AA');
        await sleep(500);
      }
      await Promise.race([idle.closed, sleep(15_000).then(() => expect.fail('idle connection not closed'))]);
      expect(idle.closedAt! - openedAt).toBeGreaterThanOrEqual(IDLE_TIMEOUT_SECONDS * 1000 - 100);
      expect(busy.closedAt).toBeUndefined();
      expect((await busy.send(a01(newSpell()))).code).toBe('AA');
    } finally {
      idle.destroy();
      busy.destroy();
    }
  });

  it('ACKs come back in the order the messages were sent, whatever each outcome', async () => {
    const spells = Array.from({ length: 12 }, () => newSpell());
    const messages = spells.map((s, i) => {
      switch (i % 4) {
        case 1:
          return a01(s, [[`${s.visit}^^^RX1^VN`, '']]); // AE: no PV1-19
        case 2:
          return a01(s, [['|P|2.4|', '|P|2.9|']]); // AR: version
        case 3:
          return a01(s, [['|RX1|ADMISSION-ALERTS|', '|RR8|ADMISSION-ALERTS|']]); // another registered hospital: AA
        default:
          return a01(s);
      }
    });
    await withClient(async (c) => {
      await c.write(Buffer.concat(messages.map((m) => frame(m))));
      const acks = await c.acks(12);
      expect(acks.map((a) => a.controlId)).toEqual(spells.map(cid));
      expect(acks.map((a) => a.code)).toEqual(spells.map((_, i) => ['AA', 'AE', 'AR', 'AA'][i % 4]));
    });
    expect(await rowsOf(cid(spells[3]!), 'RR8')).toEqual([expect.objectContaining({ status: 'accepted' })]);
  });

  it('the sender is MSH-4: an unregistered hospital is AR (ERR 204 at MSH-4), and the message is stored as rejected', async () => {
    const spell = newSpell();
    const ack = await withClient((c) => c.send(a01(spell, [['|RX1|ADMISSION-ALERTS|', '|ZZ9|ADMISSION-ALERTS|']])));
    expect(ack).toMatchObject({ code: 'AR', controlId: cid(spell) });
    expect(ack.errorDetails).toEqual([
      expect.objectContaining({ hl7Code: '204', location: 'MSH-4', message: 'MSH-4 ZZ9 is not a registered hospital' }),
    ]);
    expect(await rowsOf(cid(spell), 'ZZ9')).toEqual([
      expect.objectContaining({
        transport: 'mllp',
        status: 'rejected',
        is_primary: false,
        ack_code: 'AR',
        error_code: 'unknown-sender',
      }),
    ]);
  });

  it('no MSH is AR (ERR 100); a reused MSH-10 with other content is AE (ERR 205); enhanced mode answers CA', async () => {
    await withClient(async (c) => {
      const noMsh = await c.send('EVN|A01|20261122092500\rPID|1||9995260182^^^NHS^NH');
      expect(noMsh).toMatchObject({ code: 'AR', controlId: '' });
      expect(noMsh.errorDetails[0]).toMatchObject({ hl7Code: '100', location: 'MSH' });
      const spell = newSpell();
      expect((await c.send(a01(spell))).code).toBe('AA');
      const reused = await c.send(a01(spell, [['Ward 12 Elderly Care', 'Ward 3']]));
      expect(reused).toMatchObject({ code: 'AE', controlId: cid(spell) });
      expect(reused.errorDetails[0]).toMatchObject({ hl7Code: '205', location: 'MSH-10' });
      const enhanced = newSpell();
      expect(await c.send(a01(enhanced, [['|P|2.4|||||GBR|', '|P|2.4|||AL|NE|GBR|']]))).toMatchObject({
        code: 'CA',
        controlId: cid(enhanced),
      });
    });
  });

  it('MSH-15 NE: stored but never acknowledged; ER: only an error is acknowledged (CE)', async () => {
    const [ne, er, erBad, last] = [newSpell(), newSpell(), newSpell(), newSpell()];
    await withClient(async (c) => {
      await c.write(
        Buffer.concat([
          frame(a01(ne, [['|P|2.4|||||GBR|', '|P|2.4|||NE|NE|GBR|']])),
          frame(a01(er, [['|P|2.4|||||GBR|', '|P|2.4|||ER|NE|GBR|']])),
          frame(
            a01(erBad, [
              ['|P|2.4|||||GBR|', '|P|2.4|||ER|NE|GBR|'],
              [`${erBad.visit}^^^RX1^VN`, ''],
            ]),
          ),
          frame(a01(last)),
        ]),
      );
      const acks = await c.acks(2);
      expect(acks.map((a) => [a.code, a.controlId])).toEqual([
        ['CE', cid(erBad)],
        ['AA', cid(last)],
      ]);
      await sleep(100);
      expect(c.frames).toHaveLength(2);
    });
    expect(await rowsOf(cid(ne))).toEqual([expect.objectContaining({ status: 'accepted', ack_code: 'CA' })]);
    expect(await rowsOf(cid(er))).toEqual([expect.objectContaining({ status: 'accepted' })]);
  });

  it('a message sent over MLLP and then resent over HTTP is recognised as the same: AA, one row', async () => {
    const spell = newSpell();
    const text = a01(spell);
    expect((await withClient((c) => c.send(text))).code).toBe('AA');
    const http = await sendHl7(svc, rx1.apiKey, text.replaceAll('\r', '\n'));
    expect(http.status).toBe(200);
    expect(http.ack).toMatchObject({ code: 'AA', controlId: cid(spell) });
    expect(await rowsOf(cid(spell))).toEqual([expect.objectContaining({ transport: 'mllp', status: 'accepted' })]);
    // and the other way round
    const other = newSpell();
    expect((await sendHl7(svc, rx1.apiKey, a01(other))).ack.code).toBe('AA');
    expect((await withClient((c) => c.send(a01(other)))).code).toBe('AA');
    expect(await rowsOf(cid(other))).toHaveLength(1);
  });

  it('empty frames are ignored, and a peer that half-closes still gets its ACKs', async () => {
    const spell = newSpell();
    const c = await RawClient.connect();
    try {
      await c.write(Buffer.concat([frame(''), frame(a01(spell))]));
      c.socket.end(); // FIN after the last byte
      const acks = await c.acks(1);
      expect(acks.map((a) => a.controlId)).toEqual([cid(spell)]);
      await Promise.race([c.closed, sleep(10_000).then(() => expect.fail('not closed after FIN'))]);
      expect(c.frames).toHaveLength(1);
    } finally {
      c.destroy();
    }
  });
});

describe('MLLP when PostgreSQL is gone', () => {
  it('every message, even one that would be rejected, is answered AR "retry later" (ERR 207), never AA', async () => {
    const lone = await startTestService({ roles: ['api'] });
    try {
      await registerHospital(lone, 'RX1', undefined, LOOPBACK_MLLP);
      const admin = postgres(inject('postgresUrl'), { max: 1, onnotice: () => undefined });
      await admin.unsafe(`drop database ${lone.db.name} with (force)`);
      await admin.end();
      const spell = newSpell();
      const c = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(lone.mllpPort!, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      });
      const replies: Buffer[] = [];
      let buf = Buffer.alloc(0);
      c.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (let end = buf.indexOf(FS); end !== -1 && end + 1 < buf.length; end = buf.indexOf(FS)) {
          replies.push(buf.subarray(buf.indexOf(VT) + 1, end));
          buf = buf.subarray(end + 2);
        }
      });
      try {
        c.write(
          Buffer.concat([
            frame(a01(spell)),
            frame(a01(spell, [['|P|2.4|', '|P|2.9|']])),
            frame('EVN|A01|20261122092500'),
          ]),
        );
        const deadline = Date.now() + 15_000;
        while (replies.length < 3 && Date.now() < deadline) await sleep(20);
        const acks = replies.map((r) => parseAck(r.toString('utf8')));
        expect(acks.map((a) => [a.code, a.controlId])).toEqual([
          ['AR', cid(spell)],
          ['AR', cid(spell)],
          ['AR', ''],
        ]);
        for (const a of acks)
          expect(a.errorDetails).toEqual([
            expect.objectContaining({ hl7Code: '207', message: expect.stringMatching(/retry later/) }),
          ]);
      } finally {
        c.destroy();
      }
    } finally {
      await lone.stop();
    }
  });
});
