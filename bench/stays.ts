/**
 * `npm run bench:stays`: how fast stays go through their workflows, and what a stay costs in memory, measured against
 * real PostgreSQL, a fresh Temporal dev server and the whole service in a child process, beside the ceiling of the
 * same dev server on the same machine measured in the same run (issue 12). Not a test.
 *
 * What runs, in order (each part can be left out with --parts):
 * - `ceiling`: trivial workflows per second: signalWithStart, one activity, complete (bench/ceiling-workflow.ts),
 *   8 signals in flight, a worker in this process with the service's worker tuning; the dev server as `npm start`
 *   runs it (file-backed; `--dev-server memory` for in memory);
 * - the service: every role (`npm start`'s), bench/service.ts, with ALLOW_LOOPBACK_WEBHOOKS (so NODE_ENV is not
 *   production) and otherwise the defaults (ADMISSION_LINGER_SECONDS 7 days, LOG_LEVEL info); one hospital and one
 *   provider with two webhook contacts on a two-step ladder (step 1 waits a day), a webhook receiver in this process;
 * - `nobody`: N A01s of people who are nobody's client, sent at once; stays per second until every stay is recorded
 *   `no-care-package` in PostgreSQL;
 * - `matched`: N A01s of registered clients, sent at once; stays per second until every admission alert's step 1
 *   webhook has arrived; then every alert is acknowledged through the API;
 * - `backlog`: N stored messages (nobody's clients), sent with the relay paused; the time from resuming the relay to
 *   the last stay recorded;
 * - `latency`: A01s of registered clients paced at each rate (default 2, 10, 50 a second and half the ceiling's
 *   rate); alert latency from the start of the hospital's POST to the webhook's arrival; acknowledged afterwards;
 * - `open`: N open stays (registered clients, admitted, alerted, acknowledged, awaiting discharge); then the service's
 *   RSS and heap (after a full GC), the workflows in the worker's cache, and alert latency again at the open rates.
 *
 * Flags (or env BENCH_<NAME>, e.g. BENCH_OPEN_STAYS): --ceiling 1000, --nobody 2000, --matched 500,
 * --backlog 10000, --rates 2,10,50,half, --level-seconds 30 (a level runs at least this long and long enough for
 * 100 alerts), --open-stays 50000 (built in waves of 2,000), --open-minutes 0 (stop building after this long; 0: no
 * limit), --open-rates 2,10, --trace (where each alert's time goes, from the histories, and the dev server's own
 * signalWithStart round trip), --dev-server file|memory, --parts
 * ceiling,nobody,matched,backlog,latency,open. A/B runs of levers: BENCH_WORKER_TUNING, BENCH_RELAY_OPTIONS (JSON,
 * bench/service.ts). The database is made on BENCH_DATABASE_URL (else TEST_DATABASE_URL, else the local server) and
 * dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import pino from 'pino';
import { findTemporalCli, startDevServer, type DevServer } from '../src/temporal/dev-server.js';
import { bundleWorkflows, installRuntime, overrideWorkerTuning, workerTuning } from '../src/temporal/worker.js';
import { startWebhookReceiver, type WebhookReceiver } from '../test/support/webhook-receiver.js';
import type { CeilingActivities } from './ceiling-workflow.js';
import {
  a01,
  A01_DATE_OF_BIRTH,
  benchDatabase,
  httpLoad,
  cpuMeter,
  machineLine,
  nhsNumberAt,
  onInterrupt,
  percentile,
  registerBenchHospital,
  root,
  sleep,
  startServiceProcess,
  untilQuiet,
  type ServiceProcess,
  type ServiceStats,
} from './support.js';

const PARTS = ['ceiling', 'nobody', 'matched', 'backlog', 'latency', 'open'] as const;
type Part = (typeof PARTS)[number];

const { values: flags } = parseArgs({
  options: {
    ceiling: { type: 'string' },
    nobody: { type: 'string' },
    matched: { type: 'string' },
    backlog: { type: 'string' },
    rates: { type: 'string' },
    'level-seconds': { type: 'string' },
    'open-stays': { type: 'string' },
    'open-rates': { type: 'string' },
    'open-minutes': { type: 'string' },
    'dev-server': { type: 'string' },
    parts: { type: 'string' },
    trace: { type: 'boolean' },
  },
  strict: true,
});
const setting = (name: keyof typeof flags, fallback: string): string =>
  (flags[name] as string | undefined) ?? process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`] ?? fallback;
const count = (name: keyof typeof flags, fallback: number): number => {
  const n = Number(setting(name, String(fallback)));
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number: ${setting(name, '')}`);
  return n;
};
const sizes = {
  ceiling: count('ceiling', 1000),
  nobody: count('nobody', 2000),
  matched: count('matched', 500),
  backlog: count('backlog', 10_000),
  rates: setting('rates', '2,10,50,half').split(','),
  levelSeconds: count('level-seconds', 30),
  openStays: count('open-stays', 50_000),
  openRates: setting('open-rates', '2,10').split(','),
  openMinutes: count('open-minutes', 0),
  devServer: setting('dev-server', 'file'),
  parts: setting('parts', PARTS.join(',')).split(',') as Part[],
};
for (const p of sizes.parts) if (!PARTS.includes(p)) throw new Error(`--parts: no part ${p} (${PARTS.join(', ')})`);
// a level's admissions are named after its rate: the same rate twice would send the same people again
for (const [name, list] of [
  ['rates', sizes.rates],
  ['open-rates', sizes.openRates],
] as const) {
  if (new Set(list).size !== list.length) throw new Error(`--${name}: each rate once (${list.join(',')})`);
}
if (!['file', 'memory'].includes(sizes.devServer)) throw new Error('--dev-server must be file or memory');
const runs = (p: Part) => sizes.parts.includes(p);

const runTag = randomBytes(3).toString('hex').toUpperCase();
const PROVIDER = 'BENCH1';
const HOOK = `/${PROVIDER}/c1`;
/** open stays are built this many at a time (admitted, alerted, acknowledged) */
const OPEN_WAVE = 2000;
/** how long a level's alerts may take to arrive after its last message before they count as missing */
const ARRIVAL_GRACE_MS = 120_000;

// ---------------------------------------------------------------------------------------------------------------
// people and messages

/** Distinct NHS numbers for the whole run, from a random start (clients and nobody's clients never share one). */
let nhsCursor = Math.floor(Math.random() * 400_000);
function nextNhs(): string {
  for (;;) {
    const n = nhsNumberAt(nhsCursor++ % 1_000_000);
    if (n) return n;
  }
}

/** A batch of new spells: visit numbers `V<phase><run>-<k>`, MSH-10 `M<phase><run>-<k>`, one person each. */
function spells(phase: string, n: number) {
  const prefix = `${phase}${runTag}-`;
  const people = Array.from({ length: n }, (_, k) => ({
    nhs: nextNhs(),
    visit: `V${prefix}${k}`,
    id: `M${prefix}${k}`,
  }));
  return { prefix: `V${prefix}`, people, message: (k: number) => a01(people[k]!) };
}

// ---------------------------------------------------------------------------------------------------------------
// processes

// ---------------------------------------------------------------------------------------------------------------
// the ceiling

/** Trivial workflows per second: signalWithStart, one activity, complete; 8 signals in flight. */
async function measureCeiling(address: string, n: number) {
  const taskQueue = `ceiling-${runTag}`;
  const bundle = await bundleWorkflows(join(root, 'bench/ceiling-workflow.ts'));
  const nativeConnection = await NativeConnection.connect({ address });
  const activities: CeilingActivities = { touch: async () => undefined };
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities,
    ...workerTuning(),
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const completed = async () =>
    client.workflow.count(`TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`).then((c) => c.count);
  const launch = async (from: number, to: number) => {
    let next = from;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let k = next++; k < to; k = next++) {
          await client.workflow.signalWithStart('trivialWorkflow', {
            workflowId: `ceiling-${runTag}-${k}`,
            taskQueue,
            signal: 'go',
            signalArgs: [String(k)],
          });
        }
      }),
    );
  };
  const until = async (target: number) => {
    while ((await completed()) < target) await sleep(100);
  };
  try {
    const warm = 20;
    await launch(0, warm);
    await until(warm);
    const start = performance.now();
    await launch(warm, warm + n);
    await until(warm + n);
    const seconds = (performance.now() - start) / 1000;
    return { n, seconds, rate: n / seconds };
  } finally {
    worker.shutdown();
    await running;
    await nativeConnection.close();
    await connection.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Where an alert's time goes, from the stays' workflow histories: the medians (and p99) of POST start → the
 * message stored (inbound_messages.received_at) → the workflow's start (the relay's signalWithStart) → the first
 * workflow task picked up → the webhook's arrival (its first attempt a local activity inside that task; else the
 * task completed → the deliver activity scheduled → started → the webhook's arrival).
 */
async function latencyBreakdown(
  client: Client,
  stays: { workflowId: string; sentAt: number; storedAt: number; arrivedAt: number }[],
): Promise<string> {
  const segments = new Map<string, number[]>();
  const add = (name: string, ms: number) => {
    const list = segments.get(name) ?? [];
    list.push(ms);
    segments.set(name, list);
  };
  for (const s of stays) {
    const history = await client.workflow.getHandle(s.workflowId).fetchHistory();
    const at = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) =>
      Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
    const events = history.events ?? [];
    const started = events.find((e) => e.workflowExecutionStartedEventAttributes);
    const wftStarted = events.find((e) => e.workflowTaskStartedEventAttributes);
    const wftCompleted = events.find((e) => e.workflowTaskCompletedEventAttributes);
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes);
    const actStarted = events.find((e) => e.activityTaskStartedEventAttributes);
    if (!started || !wftStarted || !wftCompleted) continue;
    add('POST → stored', s.storedAt - s.sentAt);
    add('stored → workflow started (relay)', at(started) - s.storedAt);
    add('workflow started → first task picked up', at(wftStarted) - at(started));
    if (s.arrivedAt <= at(wftCompleted)) {
      // the first attempt was a local activity: the webhook arrived inside the first workflow task
      add('first task picked up → webhook arrived', s.arrivedAt - at(wftStarted));
    } else if (scheduled && actStarted) {
      add('first task completed → deliver scheduled', at(scheduled) - at(wftCompleted));
      add('deliver scheduled → started', at(actStarted) - at(scheduled));
      add('deliver started → webhook arrived', s.arrivedAt - at(actStarted));
    } else {
      add('first task completed → webhook arrived', s.arrivedAt - at(wftCompleted));
    }
  }
  const lines = [...segments].map(([name, list]) => {
    const sorted = list.sort((a, b) => a - b);
    return `           ${name.padEnd(42)} p50 ${percentile(sorted, 0.5).toFixed(0).padStart(4)} ms  p99 ${percentile(sorted, 0.99).toFixed(0).padStart(4)} ms`;
  });
  return lines.join('\n');
}

/**
 * The dev server's own figure, with nothing of the service in it: 20 signalWithStart calls one after another (a
 * trivial workflow on a task queue no worker polls; each run times out after a second), round trip p50 and max.
 */
async function devServerProbe(client: Client, tag: string): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    await client.workflow.signalWithStart('trivialWorkflow', {
      workflowId: `probe-${runTag}-${tag}-${i}`,
      taskQueue: `probe-${runTag}`,
      workflowExecutionTimeout: '1s',
      signal: 'go',
      signalArgs: [String(i)],
    });
    times.push(performance.now() - start);
    await sleep(50);
  }
  times.sort((a, b) => a - b);
  return (
    `the dev server's own signalWithStart round trip (20 in a row, nothing else of ours): ` +
    `p50 ${percentile(times, 0.5).toFixed(0)} ms, max ${times[times.length - 1]!.toFixed(0)} ms`
  );
}

interface Latency {
  rate: number;
  label: string;
  sent: number;
  arrived: number;
  p50: number;
  p99: number;
  max: number;
}

async function main() {
  const t0 = Date.now();
  const database = await benchDatabase();
  const db = database.sql;
  const tmp = mkdtempSync(join(os.tmpdir(), 'aa-bench-stays-'));
  let dev: DevServer | undefined;
  let temporalConnection: Connection | undefined;
  let service: ServiceProcess | undefined;
  let hooks: WebhookReceiver | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      await service?.stop();
      await hooks?.close();
      await temporalConnection?.close();
      await dev?.stop();
      await database.drop();
      rmSync(tmp, { recursive: true, force: true });
    })());
  onInterrupt(cleanUp);
  const logger = pino({ level: 'warn' });
  installRuntime(logger);
  if (process.env.BENCH_WORKER_TUNING) overrideWorkerTuning(JSON.parse(process.env.BENCH_WORKER_TUNING));
  try {
    console.log(`admission-alerts stays benchmark, ${new Date().toISOString()}`);
    console.log(machineLine(database.pgVersion));
    console.log(
      `sizes: ceiling ${sizes.ceiling}, nobody ${sizes.nobody}, matched ${sizes.matched}, backlog ${sizes.backlog}, ` +
        `rates ${sizes.rates.join(',')} (levels ≥ ${sizes.levelSeconds} s), open stays ${sizes.openStays} ` +
        `(then ${sizes.openRates.join(',')}/s); dev server ${sizes.devServer === 'file' ? 'file-backed (as npm start)' : 'in memory'}; ` +
        `parts ${sizes.parts.join(',')}`,
    );
    console.log(`worker tuning: ${JSON.stringify(workerTuning())}`);
    if (process.env.BENCH_RELAY_OPTIONS) console.log(`relay options: ${process.env.BENCH_RELAY_OPTIONS}`);

    dev = await startDevServer({
      cliPath: findTemporalCli(process.env.TEMPORAL_CLI_PATH),
      ...(sizes.devServer === 'file' ? { dbFilename: join(tmp, 'temporal.db') } : {}),
    });
    const devPid = dev.process.pid!;
    temporalConnection = await Connection.connect({ address: dev.address });
    const temporalClient = new Client({ connection: temporalConnection });

    let ceiling: Awaited<ReturnType<typeof measureCeiling>> | undefined;
    if (runs('ceiling') && sizes.ceiling > 0) {
      process.stdout.write(`ceiling: ${sizes.ceiling} trivial workflows (signalWithStart, one activity, complete) … `);
      const cpu = cpuMeter(devPid, undefined);
      ceiling = await measureCeiling(dev.address, sizes.ceiling);
      console.log(`${ceiling.rate.toFixed(1)}/s (${ceiling.seconds.toFixed(1)} s; 8 signals in flight)`);
      console.log(`         ${cpu()}`);
    }
    const vsCeiling = (rate: number) => (ceiling ? ` = ${(rate / ceiling.rate).toFixed(2)}× the ceiling` : '');

    hooks = await startWebhookReceiver();
    service = await startServiceProcess({
      dbUrl: database.url,
      temporalAddress: dev.address,
      taskQueue: `stays-${runTag}`,
      roles: ['api', 'worker'],
      nodeFlags: ['--expose-gc'],
      env: { NODE_ENV: 'development', ALLOW_LOOPBACK_WEBHOOKS: 'true' },
    });
    const svc = service;
    const base = `http://127.0.0.1:${svc.port}`;
    const api = async (method: string, path: string, key: string, body?: unknown, type = 'application/json') => {
      const res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': type } : {}) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? (JSON.parse(text) as Record<string, any>) : {};
    };
    const hospitalKey = await registerBenchHospital(svc);
    const provider = await api('POST', '/v1/providers', svc.adminToken, { odsCode: PROVIDER, name: 'Bench Care' });
    const contacts = [];
    for (const c of ['c1', 'c2']) {
      const contact = await api('POST', `/v1/providers/${provider.id}/contacts`, provider.apiKey, {
        name: `Contact ${c}`,
        role: 'coordinator',
        webhookUrl: hooks.url(`/${PROVIDER}/${c}`),
      });
      hooks.setSecret(`/${PROVIDER}/${c}`, contact.webhookSecret as string);
      contacts.push(contact.id as string);
    }
    await api('PUT', `/v1/providers/${provider.id}/escalation-policy`, provider.apiKey, {
      steps: contacts.map((id) => ({ contactIds: [id], channels: ['webhook'], waitSeconds: 24 * 3600 })),
    });

    /** registers the people as the provider's clients, 5,000 to a CSV import */
    const registerClients = async (people: { nhs: string }[]) => {
      for (let i = 0; i < people.length; i += 5000) {
        const csv = [
          'nhs_number,date_of_birth,family_name,given_name,reference',
          ...people.slice(i, i + 5000).map((p) => `${p.nhs},${A01_DATE_OF_BIRTH},SMITH,MARGARET,`),
        ].join('\n');
        const r = await api('POST', `/v1/providers/${provider.id}/clients/import`, provider.apiKey, csv, 'text/csv');
        if ((r.rejected as unknown[]).length > 0) throw new Error(`clients rejected: ${JSON.stringify(r.rejected)}`);
      }
    };

    // admission alerts' step 1 as they arrive: NHS number → arrival (epoch ms) and alert id
    const arrivals = new Map<string, { at: number; alertId: string }>();
    const collect = () => {
      const got = hooks!.received();
      hooks!.clear();
      for (const r of got) {
        const b = r.body as { type?: string; alertId?: string; patient?: { nhsNumber?: string } } | undefined;
        if (r.path !== HOOK || b?.type !== 'admission' || !b.patient?.nhsNumber || !b.alertId) continue;
        if (!arrivals.has(b.patient.nhsNumber)) {
          arrivals.set(b.patient.nhsNumber, { at: r.receivedAt.getTime(), alertId: b.alertId });
          onArrival?.(b.alertId);
        }
      }
    };
    let onArrival: ((alertId: string) => void) | undefined;
    const waitForArrivals = async (nhs: string[], deadline: number, progress?: () => void) => {
      let lastProgress = Date.now();
      for (;;) {
        collect();
        if (nhs.every((n) => arrivals.has(n)) || Date.now() > deadline) return;
        if (progress && Date.now() - lastProgress > 10_000) {
          lastProgress = Date.now();
          progress();
        }
        await sleep(50);
      }
    };

    /** acknowledges alerts through the API as the provider, 8 at once, as they are pushed */
    const acker = () => {
      const queue: string[] = [];
      let done = 0;
      let failed = 0;
      let closed = false;
      const lanes = Array.from({ length: 8 }, async () => {
        for (;;) {
          const id = queue.shift();
          if (id !== undefined) {
            // a refusal is retried a few times (an Update can time out while the dev server is saturated)
            for (let attempt = 1; ; attempt++) {
              try {
                await api('POST', `/v1/alerts/${id}/acknowledge`, provider.apiKey as string, { by: 'bench' });
                done++;
                break;
              } catch (err) {
                if (attempt === 5) {
                  failed++;
                  console.log(`         acknowledging failed 5 times: ${(err as Error).message}`);
                  break;
                }
                await sleep(1000 * attempt);
              }
            }
          } else if (closed) return;
          else await sleep(20);
        }
      });
      return {
        push: (id: string) => void queue.push(id),
        done: () => done,
        failed: () => failed,
        async finish() {
          closed = true;
          await Promise.all(lanes);
        },
      };
    };

    const countStatus = async (prefix: string, statuses: string[]) =>
      (
        await db<{ n: number }[]>`
          select count(*)::int as n from admissions
          where visit_number like ${prefix + '%'} and status = any(${statuses})`
      )[0]!.n;
    const waitForStatus = async (prefix: string, statuses: string[], n: number, progress?: (k: number) => void) => {
      let lastProgress = Date.now();
      for (;;) {
        const k = await countStatus(prefix, statuses);
        if (k >= n) return;
        if (progress && Date.now() - lastProgress > 10_000) {
          lastProgress = Date.now();
          progress(k);
        }
        await sleep(100);
      }
    };
    const send = (message: (k: number) => string, n: number, rate?: number, durationMs?: number) =>
      httpLoad({ port: svc.port, apiKey: hospitalKey, senders: 8, next: message, count: n, rate, durationMs });
    const relayBacklog = async () =>
      (
        await db<{ n: number }[]>`
          select count(*)::int as n from inbound_messages where status = 'accepted' and dispatched_at is null`
      )[0]!.n;
    /** until the relay has handed everything over and the worker has nothing in flight (at most a minute) */
    const settle = async () => {
      const end = Date.now() + 60_000;
      while (Date.now() < end && (await relayBacklog()) > 0) await sleep(200);
      await sleep(2000);
    };
    const mib = (st: ServiceStats) =>
      `RSS ${st.rssMiB.toFixed(0)} MiB, heap ${st.heapUsedMiB.toFixed(0)} of ${st.heapTotalMiB.toFixed(0)} MiB, ` +
      `external ${st.externalMiB.toFixed(0)} MiB, ${st.cachedWorkflows ?? '?'} workflows in the worker's cache`;

    // warm-up, not measured: bundle loaded, connections made, JIT
    {
      const w = spells('W', 20);
      await registerClients(w.people.slice(0, 10));
      await send(w.message, 20);
      await waitForStatus(w.prefix, ['no-care-package', 'alerting'], 20);
      await settle();
    }
    console.log(`service: every role in one process (as npm start), ${mib(await svc.stats())}`);

    let nobodyRate: number | undefined;
    if (runs('nobody') && sizes.nobody > 0) {
      const s = spells('N', sizes.nobody);
      const cpu = cpuMeter(devPid, svc.pid);
      const start = performance.now();
      await send(s.message, sizes.nobody);
      await waitForStatus(s.prefix, ['no-care-package'], sizes.nobody);
      const secs = (performance.now() - start) / 1000;
      nobodyRate = sizes.nobody / secs;
      console.log(
        `nobody's-client stays: ${sizes.nobody} sent at once, all recorded no-care-package in ${secs.toFixed(1)} s: ` +
          `${nobodyRate.toFixed(1)}/s${vsCeiling(nobodyRate)}`,
      );
      console.log(`         ${cpu()}; ${mib(await svc.stats())}`);
      await settle();
    }

    if (runs('matched') && sizes.matched > 0) {
      const s = spells('C', sizes.matched);
      await registerClients(s.people);
      const ack = acker();
      onArrival = ack.push;
      const cpu = cpuMeter(devPid, svc.pid);
      const start = performance.now();
      const startEpoch = Date.now();
      await send(s.message, sizes.matched);
      const nhs = s.people.map((p) => p.nhs);
      await waitForArrivals(nhs, Date.now() + 30 * 60_000);
      const last = Math.max(...nhs.map((n) => arrivals.get(n)?.at ?? 0));
      const secs = (last - startEpoch) / 1000;
      const rate = sizes.matched / secs;
      console.log(
        `matched clients' stays (webhook ladder): ${sizes.matched} sent at once, every step-1 webhook in ` +
          `${secs.toFixed(1)} s: ${rate.toFixed(1)}/s${vsCeiling(rate)}`,
      );
      console.log(`         ${cpu()}`);
      void start;
      await ack.finish();
      onArrival = undefined;
      await waitForStatus(s.prefix, ['acknowledged'], sizes.matched - ack.failed());
      await settle();
    }

    let backlogSeconds: number | undefined;
    if (runs('backlog') && sizes.backlog > 0) {
      const s = spells('B', sizes.backlog);
      await svc.control('relay:pause');
      const stored = await send(s.message, sizes.backlog);
      const cpu = cpuMeter(devPid, svc.pid);
      const start = performance.now();
      await svc.control('relay:resume');
      let lastK = 0;
      let lastAt = start;
      await waitForStatus(s.prefix, ['no-care-package'], sizes.backlog, (k) => {
        void relayBacklog().then((left) => {
          const now = performance.now();
          console.log(
            `         … ${k} of ${sizes.backlog} after ${((now - start) / 1000).toFixed(0)} s ` +
              `(${((k - lastK) / ((now - lastAt) / 1000)).toFixed(1)}/s since the last line); ` +
              `${sizes.backlog - left} handed to Temporal by the relay`,
          );
          lastK = k;
          lastAt = now;
        });
      });
      backlogSeconds = (performance.now() - start) / 1000;
      const ceilingSeconds = ceiling ? sizes.backlog / ceiling.rate : undefined;
      console.log(
        `backlog: ${sizes.backlog} stored messages of nobody's clients (stored at ` +
          `${(sizes.backlog / (stored.elapsed / 1000)).toFixed(0)}/s with the relay paused) worked through in ` +
          `${backlogSeconds.toFixed(1)} s (${(sizes.backlog / backlogSeconds).toFixed(1)}/s)` +
          (ceilingSeconds
            ? `; the ceiling's time for ${sizes.backlog}: ${ceilingSeconds.toFixed(1)} s ` +
              `(${(backlogSeconds / ceilingSeconds).toFixed(2)}×)`
            : ''),
      );
      console.log(`         ${cpu()}; ${mib(await svc.stats())}`);
      await settle();
    }

    const rateOf = (r: string) => (r === 'half' ? (ceiling ? ceiling.rate / 2 : undefined) : Number(r));
    /** A01s of new clients paced at `rate`; alert latency from the POST's start to the step-1 webhook. */
    const latencyLevel = async (phase: string, r: string): Promise<Latency | undefined> => {
      const rate = rateOf(r);
      if (rate === undefined || !(rate > 0)) return undefined;
      const seconds = Math.max(sizes.levelSeconds, 100 / rate);
      const n = Math.ceil(rate * seconds);
      const s = spells(phase, n);
      await registerClients(s.people);
      if (flags.trace) console.log(`  ${await devServerProbe(temporalClient, phase)}`);
      const sentAt = new Map<string, number>();
      const cpu = cpuMeter(devPid, svc.pid);
      const load = await send(
        (k) => {
          sentAt.set(s.people[k]!.nhs, Date.now());
          return s.message(k);
        },
        n,
        rate,
        seconds * 1000,
      );
      const nhs = [...sentAt.keys()];
      await waitForArrivals(nhs, Date.now() + ARRIVAL_GRACE_MS);
      const latencies = nhs
        .filter((x) => arrivals.has(x))
        .map((x) => arrivals.get(x)!.at - sentAt.get(x)!)
        .sort((a, b) => a - b);
      const res: Latency = {
        rate,
        label: r === 'half' ? `${rate.toFixed(1)}/s (half the ceiling)` : `${rate}/s`,
        sent: nhs.length,
        arrived: latencies.length,
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
        max: latencies[latencies.length - 1] ?? NaN,
      };
      console.log(
        `  ${res.label.padEnd(26)} ${String(res.sent).padStart(5)} admissions in ${(load.elapsed / 1000).toFixed(0)} s  ` +
          `alert p50 ${res.p50.toFixed(0)} ms  p99 ${res.p99.toFixed(0)} ms  max ${res.max.toFixed(0)} ms` +
          (res.arrived < res.sent
            ? `  NOT ARRIVED within ${ARRIVAL_GRACE_MS / 1000} s: ${res.sent - res.arrived}`
            : ''),
      );
      console.log(`         ${cpu()}`);
      if (flags.trace) {
        const rows = await db<{ nhs: string; workflow_id: string; stored: Date }[]>`
          select a.nhs_number as nhs, a.workflow_id, m.received_at as stored
          from admissions a join inbound_messages m on m.message_control_id = ('M' || substr(a.visit_number, 2))
          where a.visit_number like ${s.prefix + '%'}`;
        const traced = rows
          .filter((r) => arrivals.has(r.nhs) && sentAt.has(r.nhs))
          .map((r) => ({
            workflowId: r.workflow_id,
            sentAt: sentAt.get(r.nhs)!,
            storedAt: r.stored.getTime(),
            arrivedAt: arrivals.get(r.nhs)!.at,
          }));
        console.log(`         where the time goes (${traced.length} stays' histories):`);
        console.log(await latencyBreakdown(temporalClient, traced));
      }
      const ack = acker();
      for (const x of nhs) if (arrivals.has(x)) ack.push(arrivals.get(x)!.alertId);
      await ack.finish();
      await settle();
      return res;
    };

    const idle = new Map<string, Latency>();
    if (runs('latency')) {
      console.log('alert latency, hospital POST → step-1 webhook (new clients, paced):');
      for (const r of sizes.rates) {
        const res = await latencyLevel(`L${r}`, r);
        if (res) idle.set(r, res);
      }
    }

    let open: { built: number; stats: ServiceStats; latencies: Map<string, Latency> } | undefined;
    if (runs('open') && sizes.openStays > 0) {
      const n = sizes.openStays;
      const s = spells('O', n);
      await registerClients(s.people);
      const ack = acker();
      onArrival = ack.push;
      const start = performance.now();
      const deadline = sizes.openMinutes > 0 ? start + sizes.openMinutes * 60_000 : Infinity;
      const cpu = cpuMeter(devPid, svc.pid);
      const progress = () =>
        console.log(
          `         … ${((performance.now() - start) / 1000).toFixed(0)} s: ${s.people.filter((p) => arrivals.has(p.nhs)).length} alerted, ` +
            `${ack.done()} acknowledged`,
        );
      // in waves, each acknowledged before the next is sent (acknowledgements would otherwise wait behind every
      // admission), until all are open or --open-minutes have passed
      let built = 0;
      while (built < n && performance.now() < deadline) {
        const from = built;
        const size = Math.min(OPEN_WAVE, n - from);
        await send((k) => s.message(from + k), size);
        const wave = s.people.slice(from, from + size).map((p) => p.nhs);
        await waitForArrivals(wave, Date.now() + 3600_000, progress);
        const alerted = wave.filter((x) => arrivals.has(x)).length;
        while (ack.done() + ack.failed() < from + alerted) await sleep(100);
        built = from + size;
      }
      await ack.finish();
      onArrival = undefined;
      await waitForStatus(s.prefix, ['acknowledged'], built - ack.failed());
      const secs = (performance.now() - start) / 1000;
      console.log(
        `open stays: ${built} admitted, alerted and acknowledged in ${secs.toFixed(0)} s (${(built / secs).toFixed(1)}/s${vsCeiling(built / secs)})` +
          (built < n ? `; stopped at --open-minutes ${sizes.openMinutes} before ${n}` : ''),
      );
      console.log(`         ${cpu()}`);
      await settle();
      // open stays are a steady state: measured once the build's aftermath (PostgreSQL's checkpoints and
      // autovacuum, the dev server's own housekeeping) is over, not while the machine still digests it
      const quiet = await untilQuiet();
      console.log(
        `         machine quiet (under 10% of its CPU for 5 s) after ${(quiet.waitedMs / 1000).toFixed(0)} s` +
          (quiet.busy >= 0.1 ? ` (still ${(quiet.busy * 100).toFixed(0)}% busy: measured anyway)` : ''),
      );
      const before = await svc.stats();
      await svc.control('gc');
      const stats = await svc.stats();
      console.log(`         service before a full GC: ${mib(before)}`);
      console.log(`         service after a full GC:  ${mib(stats)}`);
      console.log(`alert latency on top of ${built} open stays:`);
      const latencies = new Map<string, Latency>();
      for (const r of sizes.openRates) {
        const res = await latencyLevel(`P${r}`, r);
        if (res) latencies.set(r, res);
      }
      open = { built, stats, latencies };
    }

    // ------------------------------------------------------------------------------------------------------------
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
    console.log('targets (ratios to the ceiling measured above):');
    if (ceiling && nobodyRate !== undefined) {
      console.log(
        `  nobody's-client stays ≥ 1.0× the ceiling: ${(nobodyRate / ceiling.rate).toFixed(2)}× ${verdict(nobodyRate >= ceiling.rate)}`,
      );
    }
    if (ceiling && backlogSeconds !== undefined) {
      const c = sizes.backlog / ceiling.rate;
      console.log(
        `  backlog of ${sizes.backlog} in ≤ the ceiling's time (${c.toFixed(0)} s): ${backlogSeconds.toFixed(0)} s ${verdict(backlogSeconds <= c)}`,
      );
    }
    const two = idle.get('2');
    if (two)
      console.log(
        `  alert p99 ≤ 150 ms at 2/s: ${two.p99.toFixed(0)} ms ${verdict(two.p99 <= 150 && two.arrived === two.sent)}`,
      );
    const half = idle.get('half');
    if (half) {
      console.log(
        `  alert p99 ≤ 1 s at half the ceiling (${half.rate.toFixed(1)}/s): ${half.p99.toFixed(0)} ms ` +
          verdict(half.p99 <= 1000 && half.arrived === half.sent),
      );
    }
    if (open) {
      const rssOk = open.stats.rssMiB * 2 ** 20 <= 1e9;
      console.log(
        `  ${open.built} open stays${open.built < sizes.openStays ? ` (of ${sizes.openStays} asked)` : ''}, service RSS ≤ 1 GB: ${((open.stats.rssMiB * 2 ** 20) / 1e9).toFixed(2)} GB ${verdict(rssOk)}`,
      );
      for (const [r, l] of open.latencies) {
        const i = idle.get(r);
        if (!i) continue;
        const ratio = l.p99 / i.p99;
        console.log(
          `  alert latency at ${l.label} within 20% of idle: p99 ${l.p99.toFixed(0)} ms vs ${i.p99.toFixed(0)} ms ` +
            `(${ratio.toFixed(2)}×), p50 ${l.p50.toFixed(0)} vs ${i.p50.toFixed(0)} ms ${verdict(ratio <= 1.2 && l.p50 <= 1.2 * i.p50)}`,
        );
      }
    }
    console.log(`(whole run ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  } finally {
    await cleanUp();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
