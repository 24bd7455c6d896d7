/**
 * CONTRACT.md "Install": `npm run demo` (src/demo/main.ts, run as a real process the way tsx runs it) starts the
 * service with a simulated hospital and a sample provider whose webhook receiver prints each alert, and a newcomer
 * sees alerts arrive and acknowledgements made. Here on this run's Temporal dev server and a fresh database, on free
 * ports; Ctrl-C (SIGINT) stops it cleanly.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/temporal/dev-server.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('npm run demo', () => {
  let db: TestDatabase;
  let dataDir: string;
  let child: ChildProcessWithoutNullStreams;
  let exited: Promise<number | null>;
  let stdout = '';
  let stderr = '';
  let port: number;
  const adminToken = `admin-${randomBytes(16).toString('hex')}`;

  /** Waits until the demo has printed a line matching `pattern` (it keeps running meanwhile). */
  async function printed(pattern: RegExp, timeoutMs = 100_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = stdout.split('\n').find((l) => pattern.test(l));
      if (line) return line;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the demo never printed ${pattern}:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase(inject('postgresUrl'));
    dataDir = mkdtempSync(join(tmpdir(), 'aa-demo-'));
    port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'src/demo/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: String(port),
        HOST: '127.0.0.1',
        MLLP_PORT: '0',
        DATA_DIR: dataDir,
        DATABASE_URL: db.url,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: `aa-demo-${randomBytes(4).toString('hex')}`,
        ADMIN_TOKEN: adminToken,
      },
    });
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise((resolve) => child.on('close', resolve));
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints where to look: the API, the Temporal UI filters, and never an ADMIN_TOKEN given in the environment', async () => {
    await printed(/^Below: each message the hospital sends/);
    expect(stdout).toContain(`API            http://localhost:${port}`);
    expect(stdout).toContain(`Temporal UI    (external Temporal at ${inject('temporalAddress')})`);
    expect(stdout).toContain('waiting for an acknowledgement: AdmissionStatus="alerting"');
    expect(stdout).toContain('Admin token    from ADMIN_TOKEN (not shown)');
    expect(stdout).not.toContain(adminToken);
    expect(existsSync(join(dataDir, 'demo.json'))).toBe(true);
  });

  it('the hospital feed is accepted, alerts reach the provider, and the coordinator acknowledges one', async () => {
    expect(await printed(/hospital {2}A01 admitted {3}Ada EXAMPLE \(client DEMO-01\)/)).toMatch(/→ ACK AA$/);
    expect(await printed(/provider {2}ADMISSION/)).toMatch(
      /ADMISSION +Ada EXAMPLE \(DEMO-01\) at Demo General Hospital \(simulated\), Ward 12 Elderly Care, bed \d+ {2}→ Day coordinator, step 1 {2}\[alert [0-9a-f-]{36}\]$/,
    );
    await printed(/provider {2}✓ Day coordinator acknowledged the admission of Ada EXAMPLE: visits-paused/);
    // and the service agrees: the operator sees the alert acknowledged by the demo's coordinator
    const res = await fetch(`http://127.0.0.1:${port}/v1/alerts?status=acknowledged`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const body = (await res.json()) as { items: { acknowledgedBy: string }[] };
    expect(res.status).toBe(200);
    expect(body.items.map((a) => a.acknowledgedBy)).toContain('Day coordinator');
  });

  it('Ctrl-C stops it cleanly: exit 0, and no error was logged', async () => {
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const errors = `${stdout}\n${stderr}`.split('\n').filter((l) => /"level":(50|60)/.test(l));
    expect(errors).toEqual([]);
  });
});
