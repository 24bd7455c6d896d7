/**
 * CONTRACT.md "Security defaults", MLLP: senders are authenticated (by address, or by client certificate over TLS),
 * connections are capped, and a frame must finish within its deadline. Each refusal is checked for what the sender
 * sees (no ACK, a closed connection, or AR with its ERR) and for what is stored: nothing, counted in
 * `inbound_messages` through SQL. On loopback a second sender is a client socket bound to 127.0.0.2.
 */
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../support/certs.js';
import { eventually } from '../support/fixtures.js';
import { MllpTestClient, mllpFrame } from '../support/mllp-client.js';
import { newSpell, registerHospital, sendHl7, spellMessage } from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';

type Spell = ReturnType<typeof newSpell>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The a01-admit fixture for a fresh spell, sent as hospital `ods` (MSH-4); its MSH-10 is `${spell.ids}000001`. */
function a01(spell: Spell, ods: string): string {
  return spellMessage('a01-admit.hl7', spell).replace('|RX1|ADMISSION-ALERTS|', `|${ods}|ADMISSION-ALERTS|`);
}
const cid = (spell: Spell) => `${spell.ids}000001`;

let odsSeq = 0;
const ods = (prefix: string) => `${prefix}${Date.now().toString(36).slice(-3).toUpperCase()}${++odsSeq}`;

/** Rows stored for an MSH-10, and all rows, through SQL. */
async function stored(db: postgres.Sql, controlId: string) {
  const [row] = await db<{ mine: number; all: number }[]>`
    select count(*) filter (where message_control_id = ${controlId})::int as mine, count(*)::int as "all"
    from inbound_messages`;
  return row!;
}

// ---- sender authentication by address ---------------------------------------------------------------------

describe('MLLP sender authentication by address (plain TCP)', () => {
  let svc: TestService;
  let db: postgres.Sql;
  /** allows 127.0.0.1 */
  let h1: Awaited<ReturnType<typeof registerHospital>>;
  /** allows 127.0.0.2 */
  let h2: Awaited<ReturnType<typeof registerHospital>>;
  /** neither an allow-list nor a certificate */
  let h3: Awaited<ReturnType<typeof registerHospital>>;

  beforeAll(async () => {
    svc = await startTestService({
      roles: ['api'],
      env: { MLLP_FRAME_TIMEOUT_SECONDS: '1', MLLP_IDLE_TIMEOUT_SECONDS: '3' },
    });
    db = postgres(svc.db.url, { max: 2, onnotice: () => undefined });
    h1 = await registerHospital(svc, ods('RA'), 'Allows 127.0.0.1', { mllpAllowedCidrs: ['127.0.0.1/32'] });
    h2 = await registerHospital(svc, ods('RB'), 'Allows 127.0.0.2', { mllpAllowedCidrs: ['127.0.0.2'] });
    h3 = await registerHospital(svc, ods('RC'), 'No MLLP senders');
  });
  afterAll(async () => {
    await db?.end();
    await svc?.stop();
  });

  it('from an allowed address: AA, stored', async () => {
    const spell = newSpell();
    const c = await MllpTestClient.connect(svc.mllpPort!);
    try {
      expect(await c.send(a01(spell, h1.odsCode))).toMatchObject({ code: 'AA', controlId: cid(spell), errors: [] });
    } finally {
      c.destroy();
    }
    expect((await stored(db, cid(spell))).mine).toBe(1);
  });

  it('from an address no hospital allows (127.0.0.3): closed without an ACK, nothing read, nothing stored', async () => {
    const spell = newSpell();
    const before = await stored(db, cid(spell));
    const c = await MllpTestClient.connect(svc.mllpPort!, { localAddress: '127.0.0.3' });
    // a flood of tiny frames, as in the issue: none of it may reach the database
    await c.write(
      Buffer.concat([mllpFrame(a01(spell, h1.odsCode)), ...Array.from({ length: 50 }, () => mllpFrame('MSH|^~\\&|'))]),
    );
    await c.waitClosed(5_000);
    expect(c.frames).toEqual([]);
    expect(c.bytesIn).toBe(0);
    expect(await stored(db, cid(spell))).toEqual({ mine: 0, all: before.all });
  });

  it('from 127.0.0.2, allowed for another hospital only: a message as h1 is AR (ERR 204 at MSH-4) and not stored; as h2 it is AA', async () => {
    const refused = newSpell();
    const accepted = newSpell();
    const before = await stored(db, cid(refused));
    const c = await MllpTestClient.connect(svc.mllpPort!, { localAddress: '127.0.0.2' });
    try {
      const ack = await c.send(a01(refused, h1.odsCode));
      expect(ack).toMatchObject({ code: 'AR', controlId: cid(refused) });
      expect(ack.errorDetails).toEqual([
        expect.objectContaining({
          hl7Code: '204',
          location: 'MSH-4',
          message: `sender not allowed: ${h1.odsCode} does not allow MLLP from this address 127.0.0.2`,
        }),
      ]);
      // the connection goes on: the next message, as the hospital that allows this address, is accepted
      expect(await c.send(a01(accepted, h2.odsCode))).toMatchObject({ code: 'AA', controlId: cid(accepted) });
    } finally {
      c.destroy();
    }
    expect(await stored(db, cid(refused))).toEqual({ mine: 0, all: before.all + 1 });
    expect((await stored(db, cid(accepted))).mine).toBe(1);
  });

  it('from 127.0.0.1, a message as h2 (which allows only 127.0.0.2) is AR and not stored', async () => {
    const spell = newSpell();
    const before = await stored(db, cid(spell));
    const c = await MllpTestClient.connect(svc.mllpPort!);
    try {
      const ack = await c.send(a01(spell, h2.odsCode));
      expect(ack.code).toBe('AR');
      expect(ack.errorDetails[0]).toMatchObject({
        hl7Code: '204',
        location: 'MSH-4',
        message: `sender not allowed: ${h2.odsCode} does not allow MLLP from this address 127.0.0.1`,
      });
    } finally {
      c.destroy();
    }
    expect(await stored(db, cid(spell))).toEqual({ mine: 0, all: before.all });
  });

  it('a hospital with neither allow-list nor certificate cannot send over MLLP; over HTTP with its key it can', async () => {
    const overMllp = newSpell();
    const c = await MllpTestClient.connect(svc.mllpPort!);
    try {
      const ack = await c.send(a01(overMllp, h3.odsCode));
      expect(ack.code).toBe('AR');
      expect(ack.errorDetails[0]).toMatchObject({ hl7Code: '204', location: 'MSH-4' });
    } finally {
      c.destroy();
    }
    expect((await stored(db, cid(overMllp))).mine).toBe(0);
    const overHttp = newSpell();
    const res = await sendHl7(svc, h3.apiKey, a01(overHttp, h3.odsCode));
    expect(res.status).toBe(200);
    expect(res.ack.code).toBe('AA');
    expect((await stored(db, cid(overHttp))).mine).toBe(1);
  });

  it('PATCH /v1/hospitals/{id} takes effect at once: h3 allows 127.0.0.1; h2 drops 127.0.0.2, which is then refused at connect', async () => {
    const patched = await svc.api('PATCH', `/v1/hospitals/${h3.id}`, {
      key: svc.adminToken,
      body: { mllpAllowedCidrs: ['127.0.0.0/30'] },
    });
    expect(patched.status, patched.text).toBe(200);
    const spell = newSpell();
    const c = await MllpTestClient.connect(svc.mllpPort!);
    try {
      expect((await c.send(a01(spell, h3.odsCode))).code).toBe('AA');
    } finally {
      c.destroy();
    }

    // 127.0.0.0/30 (h3) still covers 127.0.0.2: narrow h3 again, and clear h2
    for (const [h, cidrs] of [
      [h3, ['127.0.0.1/32']],
      [h2, []],
    ] as const) {
      const res = await svc.api('PATCH', `/v1/hospitals/${h.id}`, {
        key: svc.adminToken,
        body: { mllpAllowedCidrs: cidrs },
      });
      expect(res.status, res.text).toBe(200);
      expect(res.body.mllpAllowedCidrs).toEqual(cidrs);
    }
    const refused = newSpell();
    const before = await stored(db, cid(refused));
    const second = await MllpTestClient.connect(svc.mllpPort!, { localAddress: '127.0.0.2' });
    await second.write(mllpFrame(a01(refused, h2.odsCode)));
    await second.waitClosed(5_000);
    expect(second.frames).toEqual([]);
    expect(await stored(db, cid(refused))).toEqual({ mine: 0, all: before.all });
  });

  it('a frame dripped one byte at a time is cut off MLLP_FRAME_TIMEOUT_SECONDS (1 s here) after its start byte: no ACK, nothing stored', async () => {
    const spell = newSpell();
    const before = await stored(db, cid(spell));
    const c = await MllpTestClient.connect(svc.mllpPort!);
    const bytes = mllpFrame(a01(spell, h1.odsCode));
    const dripping = (async () => {
      for (const b of bytes) {
        if (c.closedAt !== undefined) return;
        await c.write(Buffer.from([b]));
        await sleep(200);
      }
    })();
    const openFor = await c.waitClosed(10_000);
    await dripping;
    expect(openFor).toBeGreaterThanOrEqual(900);
    expect(openFor).toBeLessThan(5_000);
    expect(c.frames).toEqual([]);
    expect(await stored(db, cid(spell))).toEqual({ mine: 0, all: before.all });
  });

  it('bytes that never make a frame do not keep a connection open past MLLP_IDLE_TIMEOUT_SECONDS (3 s here)', async () => {
    const c = await MllpTestClient.connect(svc.mllpPort!);
    const dripping = (async () => {
      while (c.closedAt === undefined && Date.now() - c.openedAt < 15_000) {
        await c.write('x');
        await sleep(300);
      }
    })();
    const openFor = await c.waitClosed(12_000);
    await dripping;
    expect(openFor).toBeGreaterThanOrEqual(2_900);
    expect(openFor).toBeLessThan(8_000);
  });
});

// ---- the registry's MLLP fields -----------------------------------------------------------------------------

describe('the registry: mllpAllowedCidrs and mllpCertificateFingerprints', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ roles: ['api'] });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  const FP = 'ab'.repeat(32);
  const FP_COLONS = FP.match(/../g)!.join(':');

  it('POST /v1/hospitals takes both, normalised (IPv6 compressed, a bare address a block of one, fingerprints upper-case without colons); GET shows them', async () => {
    const odsCode = ods('RS');
    const res = await svc.api('POST', '/v1/hospitals', {
      key: svc.adminToken,
      body: {
        odsCode,
        name: 'Secure General',
        mllpAllowedCidrs: ['10.20.0.0/16', '2001:0DB8:0:0::/32', '192.0.2.7', '10.20.0.0/16'],
        mllpCertificateFingerprints: [FP_COLONS],
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({
      odsCode,
      mllpAllowedCidrs: ['10.20.0.0/16', '2001:db8::/32', '192.0.2.7/32'],
      mllpCertificateFingerprints: [FP.toUpperCase()],
    });
    const one = await svc.api('GET', `/v1/hospitals/${res.body.id}`, { key: svc.adminToken });
    expect(one.body).toEqual({
      id: res.body.id,
      odsCode,
      name: 'Secure General',
      createdAt: expect.any(String),
      silenceAlertSeconds: 7200,
      mllpAllowedCidrs: ['10.20.0.0/16', '2001:db8::/32', '192.0.2.7/32'],
      mllpCertificateFingerprints: [FP.toUpperCase()],
    });
    const list = await svc.api('GET', '/v1/hospitals', { key: svc.adminToken });
    expect(list.body.items.find((h: { id: string }) => h.id === res.body.id)).toEqual(one.body);
  });

  it('a hospital registered without them answers as before ({id, odsCode, name, apiKey}) and shows empty lists', async () => {
    const res = await svc.api('POST', '/v1/hospitals', {
      key: svc.adminToken,
      body: { odsCode: ods('RP'), name: 'Plain' },
    });
    expect(Object.keys(res.body).sort()).toEqual(['apiKey', 'id', 'name', 'odsCode']);
    const one = await svc.api('GET', `/v1/hospitals/${res.body.id}`, { key: svc.adminToken });
    expect(one.body).toMatchObject({ mllpAllowedCidrs: [], mllpCertificateFingerprints: [] });
  });

  it.each([
    [
      { mllpAllowedCidrs: ['10.20.1.5/16'] },
      'mllpAllowedCidrs.0',
      '"10.20.1.5/16" has host bits set: the block is 10.20.0.0/16',
    ],
    [
      { mllpAllowedCidrs: ['10.0.0.0/33'] },
      'mllpAllowedCidrs.0',
      '"10.0.0.0/33" has a prefix length that is not 0 to 32',
    ],
    [
      { mllpAllowedCidrs: ['hospital.example'] },
      'mllpAllowedCidrs.0',
      '"hospital.example" is not an IPv4 or IPv6 address or CIDR block',
    ],
    [{ mllpAllowedCidrs: '10.0.0.0/8' }, 'mllpAllowedCidrs', 'must be an array of CIDR blocks, e.g. ["10.20.0.0/16"]'],
    [
      { mllpCertificateFingerprints: ['abc'] },
      'mllpCertificateFingerprints.0',
      '"abc" is not a SHA-256 fingerprint (64 hex digits, colons allowed)',
    ],
  ])('POST %j → 400 problem+json naming the field, nothing registered', async (extra, field, message) => {
    const odsCode = ods('RX');
    const res = await svc.api('POST', '/v1/hospitals', {
      key: svc.adminToken,
      body: { odsCode, name: 'Bad', ...extra },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toEqual({
      type: 'https://admission-alerts.example/problems/bad-request',
      title: 'Invalid request',
      status: 400,
      detail: `${field}: ${message}`,
      errors: [{ field, message }],
    });
    const list = await svc.api('GET', '/v1/hospitals', { key: svc.adminToken });
    expect(list.body.items.some((h: { odsCode: string }) => h.odsCode === odsCode)).toBe(false);
  });

  it('PATCH /v1/hospitals/{id} replaces the lists given, keeps the others, is audited; 400 / 403 / 404 otherwise', async () => {
    const h = await registerHospital(svc, ods('RQ'), 'Patched', { mllpAllowedCidrs: ['10.0.0.0/8'] });
    const res = await svc.api('PATCH', `/v1/hospitals/${h.id}`, {
      key: svc.adminToken,
      body: { mllpCertificateFingerprints: [FP] },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      id: h.id,
      odsCode: h.odsCode,
      name: 'Patched',
      createdAt: expect.any(String),
      silenceAlertSeconds: 7200,
      mllpAllowedCidrs: ['10.0.0.0/8'],
      mllpCertificateFingerprints: [FP.toUpperCase()],
    });
    const cleared = await svc.api('PATCH', `/v1/hospitals/${h.id}`, {
      key: svc.adminToken,
      body: { mllpAllowedCidrs: [] },
    });
    expect(cleared.body).toMatchObject({ mllpAllowedCidrs: [], mllpCertificateFingerprints: [FP.toUpperCase()] });

    const db = postgres(svc.db.url, { max: 1, onnotice: () => undefined });
    try {
      const audit = await db<{ actor: string; details: unknown }[]>`
        select actor, details from audit_events where action = 'hospital.mllp-senders.updated' and entity_id = ${h.id} order by id`;
      expect(audit).toEqual([
        {
          actor: 'operator',
          details: { mllpAllowedCidrs: ['10.0.0.0/8'], mllpCertificateFingerprints: [FP.toUpperCase()] },
        },
        { actor: 'operator', details: { mllpAllowedCidrs: [], mllpCertificateFingerprints: [FP.toUpperCase()] } },
      ]);
    } finally {
      await db.end();
    }

    const empty = await svc.api('PATCH', `/v1/hospitals/${h.id}`, { key: svc.adminToken, body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.detail).toBe(
      '(body): must set at least one of mllpAllowedCidrs, mllpCertificateFingerprints, silenceAlertSeconds',
    );
    const unknownField = await svc.api('PATCH', `/v1/hospitals/${h.id}`, { key: svc.adminToken, body: { name: 'x' } });
    expect(unknownField.status).toBe(400);
    expect(
      (await svc.api('PATCH', `/v1/hospitals/${h.id}`, { key: h.apiKey, body: { mllpAllowedCidrs: [] } })).status,
    ).toBe(403);
    const missing = await svc.api('PATCH', '/v1/hospitals/00000000-0000-4000-8000-000000000000', {
      key: svc.adminToken,
      body: { mllpAllowedCidrs: [] },
    });
    expect(missing.status).toBe(404);
    expect((await svc.api('PATCH', `/v1/hospitals/${h.id}`, { body: { mllpAllowedCidrs: [] } })).status).toBe(401);
  });
});

// ---- the connection cap -----------------------------------------------------------------------------------

describe('MLLP_MAX_CONNECTIONS', () => {
  let svc: TestService;
  let h: Awaited<ReturnType<typeof registerHospital>>;
  beforeAll(async () => {
    svc = await startTestService({ roles: ['api'], env: { MLLP_MAX_CONNECTIONS: '3' } });
    h = await registerHospital(svc, ods('RM'), 'Capped', { mllpAllowedCidrs: ['127.0.0.1/32'] });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('beyond 3 (here) a new connection is closed at once with no answer, while the 3 are served; one closing frees a place', async () => {
    const held = await Promise.all([1, 2, 3].map(() => MllpTestClient.connect(svc.mllpPort!)));
    try {
      const extra = await MllpTestClient.connect(svc.mllpPort!);
      const openFor = await extra.waitClosed(3_000);
      expect(openFor).toBeLessThan(1_000);
      expect(extra.bytesIn).toBe(0);
      for (const c of held) expect((await c.send(a01(newSpell(), h.odsCode))).code).toBe('AA');

      held[0]!.destroy();
      await held[0]!.closed;
      // the server notices the close a moment later
      let served: MllpTestClient | undefined;
      for (let i = 0; i < 50 && !served; i++) {
        const c = await MllpTestClient.connect(svc.mllpPort!);
        await sleep(100);
        if (c.closedAt === undefined) served = c;
      }
      expect(served).toBeDefined();
      expect((await served!.send(a01(newSpell(), h.odsCode))).code).toBe('AA');
      served!.destroy();
    } finally {
      for (const c of held) c.destroy();
    }
  });
});

// ---- MLLP over TLS ----------------------------------------------------------------------------------------

describe('MLLP over TLS with client certificates', () => {
  let pki: TestPki;
  let svc: TestService;
  let db: postgres.Sql;
  let bound: ReturnType<TestPki['client']>;
  let unbound: ReturnType<TestPki['client']>;
  let foreign: ReturnType<TestPki['client']>;
  let hTls: Awaited<ReturnType<typeof registerHospital>>;
  let hOther: Awaited<ReturnType<typeof registerHospital>>;
  let hBoth: Awaited<ReturnType<typeof registerHospital>>;
  let bothCert: ReturnType<TestPki['client']>;
  /** the service's log lines (messages only), to tell a refused handshake from a refused sender */
  const logs: string[] = [];

  beforeAll(async () => {
    pki = createTestPki();
    bound = pki.client('rx-interface-engine');
    unbound = pki.client('someone-else');
    foreign = pki.foreignClient('rx-foreign-ca');
    bothCert = pki.client('cert-and-cidr');
    svc = await startTestService({
      roles: ['api'],
      env: { MLLP_TLS_CERT: pki.server.certFile, MLLP_TLS_KEY: pki.server.keyFile, MLLP_TLS_CA: pki.ca.certFile },
      logger: pino(
        { level: 'info' },
        { write: (line: string) => void logs.push((JSON.parse(line) as { msg: string }).msg) },
      ),
    });
    db = postgres(svc.db.url, { max: 2, onnotice: () => undefined });
    // fingerprints given as Node prints them (upper-case, colons) and lower-case without colons: both normalised
    hTls = await registerHospital(svc, ods('RT'), 'Bound certificate', {
      mllpCertificateFingerprints: [bound.fingerprint256],
    });
    // over TLS an allow-list alone is not enough: the certificate must be bound
    hOther = await registerHospital(svc, ods('RO'), 'Another certificate', {
      mllpCertificateFingerprints: ['cd'.repeat(32)],
      mllpAllowedCidrs: ['127.0.0.1/32'],
    });
    // a certificate and an allow-list that does not hold 127.0.0.1: both must match
    hBoth = await registerHospital(svc, ods('RW'), 'Certificate and allow-list', {
      mllpCertificateFingerprints: [bothCert.fingerprint256.replaceAll(':', '').toLowerCase()],
      mllpAllowedCidrs: ['10.0.0.0/8'],
    });
  });
  afterAll(async () => {
    await db?.end();
    await svc?.stop();
    pki?.remove();
  });

  const connect = (cert?: ReturnType<TestPki['client']>) =>
    MllpTestClient.connectTls(svc.mllpPort!, { ca: pki.ca.cert, ...(cert ? { cert: cert.cert, key: cert.key } : {}) });

  it('a client certificate bound to the hospital: AA, stored; as another hospital: AR (ERR 204), not stored', async () => {
    const mine = newSpell();
    const theirs = newSpell();
    const c = await connect(bound);
    try {
      expect(c.error).toBeUndefined();
      expect(await c.send(a01(mine, hTls.odsCode))).toMatchObject({ code: 'AA', controlId: cid(mine) });
      const ack = await c.send(a01(theirs, hOther.odsCode));
      expect(ack.code).toBe('AR');
      expect(ack.errorDetails[0]).toMatchObject({
        hl7Code: '204',
        location: 'MSH-4',
        message: `sender not allowed: ${hOther.odsCode} does not allow MLLP from this certificate`,
      });
    } finally {
      c.destroy();
    }
    expect((await stored(db, cid(mine))).mine).toBe(1);
    expect((await stored(db, cid(theirs))).mine).toBe(0);
  });

  it('a certificate signed by the CA but bound to no hospital: closed without an ACK, nothing stored', async () => {
    const spell = newSpell();
    const before = await stored(db, cid(spell));
    logs.length = 0;
    const c = await connect(unbound);
    await c.write(mllpFrame(a01(spell, hTls.odsCode)));
    await c.waitClosed(5_000);
    expect(c.frames).toEqual([]);
    expect(await stored(db, cid(spell))).toEqual({ mine: 0, all: before.all });
    expect(logs).toContain('MLLP connection refused: sender not allowed for any hospital; closed without reading');
  });

  it('a certificate and an allow-list: the certificate alone is not enough from an address outside the list', async () => {
    const spell = newSpell();
    const c = await connect(bothCert);
    await c.write(mllpFrame(a01(spell, hBoth.odsCode)));
    await c.waitClosed(5_000);
    expect(c.frames).toEqual([]);
    expect((await stored(db, cid(spell))).mine).toBe(0);
  });

  it.each([
    ['a certificate from a CA the service does not trust', () => foreign],
    ['no client certificate', () => undefined],
  ])('%s: the handshake is refused, no ACK, nothing stored', async (_what, cert) => {
    const spell = newSpell();
    const before = await stored(db, cid(spell));
    logs.length = 0;
    const c = await connect(cert());
    await c.write(mllpFrame(a01(spell, hTls.odsCode)));
    await c.waitClosed(5_000);
    expect(c.frames).toEqual([]);
    expect(await stored(db, cid(spell))).toEqual({ mine: 0, all: before.all });
    await eventually(async () => logs.some((l) => l.startsWith('MLLP TLS handshake failed')), 5_000, 'handshake log');
    expect(logs).not.toContain('MLLP connection opened');
  });

  it('plain MLLP to the TLS port gets nothing back and stores nothing', async () => {
    const spell = newSpell();
    const before = await stored(db, cid(spell));
    const c = await MllpTestClient.connect(svc.mllpPort!);
    await c.write(mllpFrame(a01(spell, hOther.odsCode)));
    await c.waitClosed(5_000);
    expect(c.frames).toEqual([]);
    expect(await stored(db, cid(spell))).toEqual({ mine: 0, all: before.all });
  });
});
