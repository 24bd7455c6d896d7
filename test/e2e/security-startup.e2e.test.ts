/**
 * CONTRACT.md "Security defaults", at start: ADMIN_TOKEN of fewer than 32 characters and ALLOW_LOOPBACK_WEBHOOKS=true
 * each stop the process when NODE_ENV=production, with one line naming the variable; `npm start` never prints a
 * token that came from the environment, and still prints one it generated. The entry points run as real processes
 * (`node --import tsx`, which is what `npm start` / `tsx` does).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startService, type ServiceOptions } from '../../src/service.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a child gets: only what node needs, plus `env`. */
function childEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR']) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return { ...out, ...env };
}

/** Runs an entry point to its end (a configuration error ends it at once). */
function runToExit(entry: string, env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: root, env: childEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Starts `src/main.ts` (npm start), waits for its banner, then stops it with SIGTERM; returns all it printed. */
async function runNpmStartUntilReady(env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: root, env: childEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 100_000;
  while (!stdout.includes('Ctrl-C stops everything.')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`npm start did not come up:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  const code = await exited;
  return { code, stdout, stderr };
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('the process refuses to start in production', () => {
  const TOKEN_16 = 'aaaaaaaaaaaaaaaa';
  const GOOD_TOKEN = 'p'.repeat(40);
  const base = {
    DATABASE_URL: 'postgres://127.0.0.1:1/none',
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    npm_config_loglevel: 'error',
  };

  it.each(['src/main-api.ts', 'src/main-worker.ts', 'src/main.ts'])(
    '%s with NODE_ENV=production and ADMIN_TOKEN=aaaaaaaaaaaaaaaa: exit 1, one line naming ADMIN_TOKEN, the token not shown',
    async (entry) => {
      const run = await runToExit(entry, { ...base, NODE_ENV: 'production', ADMIN_TOKEN: TOKEN_16 });
      expect(run.code).toBe(1);
      expect(lines(run.stderr)).toEqual([
        'Invalid configuration: ADMIN_TOKEN must be at least 32 characters when NODE_ENV=production',
      ]);
      expect(run.stdout).toBe('');
      expect(run.stderr + run.stdout).not.toContain(TOKEN_16);
    },
  );

  it('NODE_ENV=Production (any case) counts as production', async () => {
    const run = await runToExit('src/main-api.ts', { ...base, NODE_ENV: 'Production', ADMIN_TOKEN: 'k'.repeat(31) });
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      'Invalid configuration: ADMIN_TOKEN must be at least 32 characters when NODE_ENV=production',
    ]);
  });

  it('with NODE_ENV=production and ALLOW_LOOPBACK_WEBHOOKS=true: exit 1, one line naming ALLOW_LOOPBACK_WEBHOOKS', async () => {
    const run = await runToExit('src/main-api.ts', {
      ...base,
      NODE_ENV: 'production',
      ADMIN_TOKEN: GOOD_TOKEN,
      ALLOW_LOOPBACK_WEBHOOKS: 'true',
    });
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      'Invalid configuration: ALLOW_LOOPBACK_WEBHOOKS must not be true when NODE_ENV=production',
    ]);
    expect(run.stdout).toBe('');
  });

  it('loadConfig says the same, and startService refuses a configuration built around it', async () => {
    expect(() =>
      loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: GOOD_TOKEN, ALLOW_LOOPBACK_WEBHOOKS: 'true' }),
    ).toThrow(
      new ConfigError('Invalid configuration: ALLOW_LOOPBACK_WEBHOOKS must not be true when NODE_ENV=production'),
    );
    const config = {
      ...loadConfig({ ...base, ADMIN_TOKEN: GOOD_TOKEN }),
      production: true,
      allowLoopbackWebhooks: true,
    };
    await expect(
      startService({ config: config as ServiceOptions['config'], logger: pino({ level: 'silent' }), roles: ['api'] }),
    ).rejects.toThrow('Invalid configuration: ALLOW_LOOPBACK_WEBHOOKS must not be true when NODE_ENV=production');
  });
});

describe('MLLP over TLS settings', () => {
  it('a TLS file that cannot be read stops the start with one line naming its variable, before anything listens', async () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://127.0.0.1:1/none',
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      MLLP_TLS_CERT: '/nonexistent/server.pem',
      MLLP_TLS_KEY: '/nonexistent/server.key',
      MLLP_TLS_CA: '/nonexistent/ca.pem',
    });
    await expect(
      startService({ config: config as ServiceOptions['config'], logger: pino({ level: 'silent' }), roles: ['api'] }),
    ).rejects.toThrow(
      new ConfigError('Invalid configuration: MLLP_TLS_CERT cannot be read (ENOENT: /nonexistent/server.pem)'),
    );
  });
});

describe('npm start and the admin token', () => {
  let db: TestDatabase;
  let dataDir: string;
  beforeAll(async () => {
    db = await createTestDatabase(inject('postgresUrl'));
    dataDir = mkdtempSync(join(tmpdir(), 'aa-start-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const env = () => ({
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `aa-start-${Date.now()}`,
    PORT: '0',
    HOST: '127.0.0.1',
    MLLP_PORT: '0',
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
  });

  it('a token from the environment is never printed, neither in the banner nor in any log line', async () => {
    const token = `env-token-${'z'.repeat(30)}`;
    const run = await runNpmStartUntilReady({ ...env(), ADMIN_TOKEN: token });
    expect(run.stdout).toContain('admission-alerts is running');
    expect(run.stdout).toContain('  Admin token    from ADMIN_TOKEN (not shown)');
    expect(run.stdout).not.toContain(token);
    expect(run.stderr).not.toContain(token);
    expect(run.code).toBe(0);
  });

  it('a generated token is printed (it is kept in DATA_DIR/admin-token, readable by its owner only)', async () => {
    const run = await runNpmStartUntilReady(env());
    const file = join(dataDir, 'admin-token');
    const token = readFileSync(file, 'utf8').trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(run.stdout).toContain(`  Admin token    ${token}   (kept in ${file})`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(run.code).toBe(0);
  });
});
