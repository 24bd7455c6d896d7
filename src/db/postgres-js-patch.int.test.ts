/**
 * patches/postgres+3.4.7.patch (applied by patch-package at `npm install`): postgres.js 3.4.7 turns a database
 * connection lost with a write pending into a crash or a query that never settles (porsager/postgres issues 1066,
 * 1154, 1208; open upstream). Each test here fails on the unpatched driver (`npx patch-package --reverse` shows it;
 * `npx patch-package` puts the patch back). The connection is cut by a TCP proxy in front of the real PostgreSQL.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPgProxy, type TcpProxy } from '../../test/support/pg-proxy.js';

/** What a query came to within `ms`: answered, failed (with its code), or still waiting ("hung"). */
function settle(query: Promise<unknown>, ms = 3_000): Promise<string> {
  return Promise.race([
    query.then(
      () => 'answered',
      (err: { code?: string }) => `failed ${err.code ?? 'error'}`,
    ),
    sleep(ms).then(() => 'hung'),
  ]);
}

describe('postgres.js with the socket-closed patch', () => {
  let proxy: TcpProxy;

  beforeAll(async () => {
    proxy = await startPgProxy(inject('postgresUrl'));
  });
  afterAll(async () => {
    await proxy.close();
  });

  const openPool = () =>
    postgres(proxy.url(inject('postgresUrl')), {
      max: 1,
      onnotice: () => undefined,
      backoff: () => 0.05,
      connect_timeout: 5,
    });

  it('a query sent to a connection whose idle socket was just reset fails at once, and the pool then recovers', async () => {
    const sql = openPool();
    try {
      await sql`select 1`;
      proxy.killConnections();
      const outcomes: string[] = [];
      for (let i = 0; i < 4; i++) outcomes.push(await settle(sql`select 1`));
      // unpatched: the second query goes to the dead socket between its 'error' and 'close' and waits for ever,
      // and so does every later one
      expect(outcomes).not.toContain('hung');
      expect(outcomes.at(-1)).toBe('answered');
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('a query whose write is still pending when the socket closes fails, and the next query is answered', async () => {
    const sql = openPool();
    try {
      await sql`select 1`;
      const pending = settle(sql`select 1`); // its bytes wait for the next setImmediate flush
      proxy.killConnections();
      expect(await pending).toMatch(/^failed /);
      const later: string[] = [];
      for (let i = 0; i < 3; i++) later.push(await settle(sql`select 1`));
      // unpatched: the cancelled flush's handle stays set, nothing is flushed again, every query after waits
      expect(later).not.toContain('hung');
      expect(later.at(-1)).toBe('answered');
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it("a transaction's statement sent after its connection died is rejected, and the process lives on", async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('../../test/support/pg-transaction-after-outage.ts', import.meta.url)),
        inject('postgresUrl'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    // unpatched: "TypeError: Cannot read properties of null (reading 'write')" and exit code 1
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({ outcome: 'rejected CONNECTION_CLOSED' });
  });
});
