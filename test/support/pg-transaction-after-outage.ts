/**
 * Run as a child process by src/db/postgres-js-patch.int.test.ts (`node --import tsx <this file> <postgres url>`),
 * because what it checks is whether the process survives: a transaction whose connection is cut between two
 * statements, then sends the second. Unpatched postgres.js 3.4.7 schedules that write's flush onto a socket it has
 * already dropped, and the TypeError it throws from a setImmediate ends the process. Prints one JSON line with the
 * transaction's outcome and exits 0.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { startPgProxy } from './pg-proxy.js';

const url = process.argv[2];
if (!url) throw new Error('usage: pg-transaction-after-outage.ts <postgres url>');

const proxy = await startPgProxy(url);
const sql = postgres(proxy.url(url), { max: 1, onnotice: () => undefined, connect_timeout: 5 });
let outcome: string;
try {
  await sql.begin(async (tx) => {
    await tx`select 1`;
    proxy.killConnections();
    await sleep(200); // the socket has closed
    await tx`select 2`;
  });
  outcome = 'committed';
} catch (err) {
  outcome = `rejected ${(err as { code?: string }).code ?? (err as Error).message}`;
}
await sleep(300); // a flush scheduled onto the dead socket would throw in here
await sql.end({ timeout: 1 }).catch(() => undefined);
await proxy.close();
process.stdout.write(`${JSON.stringify({ outcome })}\n`);
