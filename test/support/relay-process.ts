/**
 * A relay in a process of its own, for test/e2e/relay-outbox.e2e.test.ts to kill with SIGKILL between the call to
 * Temporal and the mark: `npx tsx test/support/relay-process.ts`, configured by the environment (DATABASE_URL,
 * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (default `default`), TEMPORAL_TASK_QUEUE, RELAY_LEASE_MS).
 *
 * The relay is `startRelay` as the API role runs it (its own pool, its own Temporal connection), with one thing
 * added: once Temporal has accepted a signalWithStart, the process writes `{"signalled":"<message id>"}` on stdout
 * and that call never returns, so the relay never marks the row: the moment the test kills it, Temporal has the
 * event and PostgreSQL has the row claimed under a lease and not dispatched. `{"ready":true}` once started.
 */
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { openDatabase } from '../../src/db/client.js';
import { startRelay } from '../../src/ingest/relay.js';
import { connectTemporal } from '../../src/temporal/client.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const db = openDatabase(env('DATABASE_URL'), { max: 3 });
const temporal = await connectTemporal({
  address: env('TEMPORAL_ADDRESS'),
  namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
  taskQueue: env('TEMPORAL_TASK_QUEUE'),
});
const real = temporal.client;
const holding = {
  connection: real.connection,
  workflow: {
    signalWithStart: async (...args: Parameters<Client['workflow']['signalWithStart']>) => {
      await real.workflow.signalWithStart(...args);
      const summary = args[1].signalArgs?.[0] as { messageId?: string } | undefined;
      process.stdout.write(`${JSON.stringify({ signalled: summary?.messageId ?? '?' })}\n`);
      return new Promise<never>(() => undefined);
    },
  },
} as unknown as Client;

startRelay({
  db,
  temporal: holding,
  taskQueue: temporal.taskQueue,
  logger: pino({ level: 'warn' }, pino.destination(2)),
  lingerSeconds: 5,
  pollMs: 100,
  leaseMs: Number(env('RELAY_LEASE_MS')),
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
