/**
 * `npm run bench:ingest`: how fast the ingest path takes HL7 v2 ADT messages, measured against real PostgreSQL and
 * a real service process, beside this machine's own ceiling for durable commits (issue 3, item 9). Not a test.
 *
 * What runs:
 * - a fresh database on the PostgreSQL at BENCH_DATABASE_URL (else TEST_DATABASE_URL, else
 *   postgres://postgres@127.0.0.1:5432/postgres), dropped at the end;
 * - the ceiling: pgbench, 8 clients, a custom script of one single-row INSERT per transaction (a row the size of
 *   a message), `synchronous_commit=on`: durable commits per second on this machine, now; and the latency of one
 *   such commit when paced at the paced rate below (the floor under any ACK latency at that rate);
 * - a Temporal dev server (the `temporal` CLI, or TEMPORAL_CLI_PATH), which the relay signals for every message;
 * - the production API role (HTTP, MLLP and the relay, started by `startService` as `src/main-api.ts` starts it)
 *   in a child process (bench/service.ts) with the default LOG_LEVEL (info) and NODE_ENV=production, and the
 *   worker role in a second child process (a worker fleet of one, on the same two cores): the worker runs every
 *   stay the relay hands over (nobody's clients), so "relay live" is the whole pipeline at work beside ingestion,
 *   and the relay holds back as it does in production while the worker is behind (RELAY_MAX_QUEUED).
 *   BENCH_WORKER=none starts no worker (every workflow task waits in the task queue; with RELAY_MAX_QUEUED=0 the
 *   relay then signals every message at once, as before the relay held back);
 * - offered load: HTTP with 8 concurrent senders on keep-alive connections, and one MLLP connection, stop and
 *   wait; each paced at 200 msg/s and then as fast as they go; first with the relay paused (the ingest path
 *   alone; the relay is then watched draining what those levels stored), then with the relay live (every message
 *   also signalled to the Temporal dev server, which shares the machine's two cores). Every message is a new A01
 *   (its own MSH-10, visit and NHS number). Latency runs from a message's planned send time (paced) or its send
 *   (max) to its whole ACK.
 *
 * Knobs: BENCH_SECONDS (each max level; paced levels run twice as long; default 5), BENCH_PACED_RATE (default
 * 200), BENCH_RELAY_SECONDS (how long the relay is watched draining, default 8), BENCH_PROFILE_DIR (write a V8
 * CPU profile of the service there), BENCH_WORKER (`none`: no worker process), RELAY_MAX_QUEUED (the service's
 * own setting, default 200).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { findTemporalCli, startDevServer, type DevServer } from '../src/temporal/dev-server.js';
import {
  a01,
  ackCode,
  benchDatabase,
  cpuMeter,
  httpLoad,
  machineLine,
  nhsNumber,
  onInterrupt,
  percentile,
  registerBenchHospital,
  rss,
  sleepUntil,
  startServiceProcess,
  type ServiceProcess,
} from './support.js';

const run = promisify(execFile);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const pacedRate = Number(process.env.BENCH_PACED_RATE ?? 200);
/** how long the relay is watched draining the backlog of the ingest-alone levels */
const relaySeconds = Number(process.env.BENCH_RELAY_SECONDS ?? 8);
const HTTP_SENDERS = 8;
const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

interface LevelResult {
  transport: string;
  offered: string;
  sent: number;
  seconds: number;
  throughput: number;
  p50: number;
  p99: number;
  max: number;
  over10: number;
  notAa: number;
  rssMiB: number;
}

// ---------------------------------------------------------------------------------------------------------------
// messages

const nhsPool = Array.from({ length: 512 }, nhsNumber);
const runTag = randomBytes(3).toString('hex').toUpperCase();
let seq = 0;

/** A new A01 for a new spell: its own MSH-10, visit number (PV1-19) and NHS number. About 700 bytes. */
function nextA01(): string {
  const n = ++seq;
  const id = `B${runTag}${n}`;
  return a01({ id, visit: `V${id}`, nhs: nhsPool[n % nhsPool.length]! });
}

// ---------------------------------------------------------------------------------------------------------------
// load

function summarise(
  transport: string,
  offered: string,
  latencies: number[],
  elapsedMs: number,
  notAa: number,
  rssMiB: number,
): LevelResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    transport,
    offered,
    sent: latencies.length,
    seconds: elapsedMs / 1000,
    throughput: latencies.length / (elapsedMs / 1000),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? NaN,
    over10: sorted.filter((l) => l > 10).length,
    notAa,
    rssMiB,
  };
}

/** HTTP: `senders` concurrent senders on keep-alive connections; paced at `rate` msg/s, or as fast as they go. */
function httpLevel(port: number, apiKey: string, durationMs: number, rate?: number) {
  return httpLoad({ port, apiKey, senders: HTTP_SENDERS, durationMs, rate, next: nextA01 });
}

/** MLLP: one connection, stop and wait (the next frame goes only after the previous ACK). */
async function mllpLoad(port: number, durationMs: number, rate?: number) {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffer: Buffer = Buffer.alloc(0);
  let waiting: ((ack: string) => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    const end = buffer.indexOf(FS);
    if (end >= 0 && buffer[end + 1] === CR) {
      const startAt = buffer.indexOf(VT);
      const ack = buffer.subarray(startAt + 1, end).toString('utf8');
      buffer = buffer.subarray(end + 2);
      const w = waiting;
      waiting = undefined;
      w?.(ack);
    }
  });
  const latencies: number[] = [];
  let notAa = 0;
  const start = performance.now();
  const end = start + durationMs;
  for (let k = 0; ; k++) {
    const planned = rate ? start + (k * 1000) / rate : performance.now();
    if (planned >= end) break;
    if (rate) await sleepUntil(planned);
    const sentAt = rate ? planned : performance.now();
    const ack = await new Promise<string>((resolve) => {
      waiting = resolve;
      socket.write(Buffer.concat([Buffer.from([VT]), Buffer.from(nextA01(), 'utf8'), Buffer.from([FS, CR])]));
    });
    latencies.push(performance.now() - sentAt);
    if (ackCode(ack) !== 'AA') notAa++;
  }
  const elapsed = performance.now() - start;
  socket.destroy();
  return { latencies, elapsed, notAa };
}

// ---------------------------------------------------------------------------------------------------------------
// the machine's ceiling

/** Runs pgbench on the bench database with a one-INSERT script (`synchronous_commit=on`); returns its output. */
async function pgbench(dbUrl: string, args: string[], cwd: string): Promise<string> {
  const u = new URL(dbUrl);
  const script = join(cwd, 'insert.sql');
  writeFileSync(script, "insert into bench_ceiling (payload) values (repeat('x', 700));\n");
  const { stdout } = await run(
    'pgbench',
    [
      ...args,
      '-n',
      '-f',
      script,
      '-h',
      u.hostname,
      '-p',
      u.port || '5432',
      '-U',
      decodeURIComponent(u.username || 'postgres'),
      u.pathname.slice(1),
    ],
    { cwd, env: { ...process.env, PGOPTIONS: '-c synchronous_commit=on', PGPASSWORD: decodeURIComponent(u.password) } },
  );
  return stdout;
}

/**
 * The machine's ceiling, measured now: durable single-row INSERT commits per second with 8 clients as fast as they
 * go, and the latency of one such commit at the paced rate (the floor under any ACK latency at that rate).
 */
async function machineCeiling(dbUrl: string) {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => undefined });
  await sql`create table bench_ceiling (id bigserial primary key, payload text not null, at timestamptz not null default now())`;
  await sql.end();
  const dir = mkdtempSync(join(os.tmpdir(), 'aa-pgbench-'));
  const clients = 8;
  const secs = Math.max(4, Math.min(10, seconds));
  try {
    const out = await pgbench(dbUrl, ['-c', String(clients), '-j', '2', '-T', String(secs)], dir);
    const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
    if (!m?.[1]) throw new Error(`could not read pgbench's output:\n${out}`);
    // paced, with a log of every transaction's latency (µs, third column; from its scheduled start)
    await pgbench(
      dbUrl,
      ['-c', String(clients), '-j', '2', '-T', String(secs), '-R', String(pacedRate), '--log', '--log-prefix=lat'],
      dir,
    );
    const latencies = readdirSync(dir)
      .filter((f) => f.startsWith('lat'))
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'))
      .map((line) => Number(line.split(' ')[2]) / 1000)
      .sort((a, b) => a - b);
    return {
      tps: Number(m[1]),
      clients,
      seconds: secs,
      pacedP50: percentile(latencies, 0.5),
      pacedP99: percentile(latencies, 0.99),
      pacedMax: latencies[latencies.length - 1] ?? NaN,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  const database = await benchDatabase();
  const dbUrl = database.url;
  const db = database.sql;
  let dev: DevServer | undefined;
  let service: ServiceProcess | undefined;
  let worker: ServiceProcess | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      await worker?.stop();
      await service?.stop();
      await dev?.stop();
      await database.drop();
    })());
  // Ctrl-C: the service, the dev server and the database go too
  onInterrupt(cleanUp);
  try {
    console.log(`admission-alerts ingest benchmark, ${new Date().toISOString()}`);
    console.log(machineLine(database.pgVersion));

    process.stdout.write('ceiling: pgbench, durable single-row INSERT commits … ');
    const ceiling = await machineCeiling(dbUrl);
    console.log(
      `${Math.round(ceiling.tps)}/s (${ceiling.clients} clients, ${ceiling.seconds} s, synchronous_commit=on)`,
    );
    console.log(
      `         one such commit at ${pacedRate}/s: p50 ${ceiling.pacedP50.toFixed(2)} ms, p99 ${ceiling.pacedP99.toFixed(2)} ms, ` +
        `max ${ceiling.pacedMax.toFixed(1)} ms (the floor under any ACK latency at that rate)`,
    );

    dev = await startDevServer({ cliPath: findTemporalCli(process.env.TEMPORAL_CLI_PATH) });
    service = await startServiceProcess({
      dbUrl,
      temporalAddress: dev.address,
      taskQueue: `bench-${runTag}`,
      roles: ['api'],
      profileDir: process.env.BENCH_PROFILE_DIR,
    });
    // a worker fleet of one, in a process of its own (started after the API role has migrated the database)
    if (process.env.BENCH_WORKER !== 'none') {
      worker = await startServiceProcess({
        dbUrl,
        temporalAddress: dev.address,
        taskQueue: `bench-${runTag}`,
        roles: ['worker'],
      });
    }
    const { port, mllpPort, pid } = service;
    const serviceStats = service.stats;
    const control = service.control;

    const apiKey = await registerBenchHospital(service);

    const backlog = async () =>
      (
        await db<{ n: number }[]>`
        select count(*)::int as n from inbound_messages where status = 'accepted' and dispatched_at is null`
      )[0]!.n;

    // warm-up (JIT, pool connections, prepared statements, the relay's first workflows), not measured
    await httpLevel(port, apiKey, 5000);
    await mllpLoad(mllpPort, 1500);
    for (let i = 0; i < 50 && (await backlog()) > 0; i++) await new Promise((r) => setTimeout(r, 200));

    const results: LevelResult[] = [];
    const clientLoop = monitorEventLoopDelay({ resolution: 1 });
    clientLoop.enable();
    const level = async (phase: string, transport: 'HTTP' | 'MLLP', rate?: number) => {
      await control('stats:reset');
      clientLoop.reset();
      // paced levels run twice as long: their p99 is the point, and more samples make it steadier
      const ms = (rate ? 2 : 1) * seconds * 1000;
      const cpu = cpuMeter(dev!.process.pid!, pid, worker?.pid);
      const r = transport === 'HTTP' ? await httpLevel(port, apiKey, ms, rate) : await mllpLoad(mllpPort, ms, rate);
      const offered = `${rate ? `${rate} msg/s` : 'max'}${transport === 'HTTP' ? `, ${HTTP_SENDERS} senders` : ', 1 connection'}`;
      const res = summarise(`${phase} ${transport}`, offered, r.latencies, r.elapsed, r.notAa, rss(pid).now);
      results.push(res);
      console.log(
        `  ${transport.padEnd(4)}  ${res.offered.padEnd(24)} ${String(res.sent).padStart(6)} msgs  ` +
          `${res.throughput.toFixed(0).padStart(5)} msg/s  ACK p50 ${res.p50.toFixed(2)} ms  p99 ${res.p99.toFixed(2)} ms  ` +
          `max ${res.max.toFixed(1)} ms  over 10 ms ${res.over10}  not AA ${res.notAa}  RSS ${res.rssMiB.toFixed(0)} MiB`,
      );
      const st = await serviceStats();
      console.log(
        `        service: event-loop delay p99 ${st.loopDelayP99Ms.toFixed(1)} ms, max ${st.loopDelayMaxMs.toFixed(1)} ms; ` +
          `GC ${st.gcCount} pauses, ${st.gcTotalMs.toFixed(0)} ms in all, longest ${st.gcMaxMs.toFixed(1)} ms; ` +
          `load average ${os.loadavg()[0]!.toFixed(2)}; this client's event-loop delay p99 ` +
          `${(clientLoop.percentile(99) / 1e6).toFixed(1)} ms, max ${(clientLoop.max / 1e6).toFixed(1)} ms`,
      );
      console.log(`        ${cpu()}`);
    };

    const logLinesBefore = service.logLines();
    const messagesBefore = seq;
    console.log(
      `ingest alone, relay paused (${2 * seconds} s per paced level, ${seconds} s at max; latency = planned send → whole ACK):`,
    );
    await control('relay:pause');
    await new Promise((r) => setTimeout(r, 1000));
    await level('alone', 'HTTP', pacedRate);
    await level('alone', 'HTTP');
    await level('alone', 'MLLP', pacedRate);
    await level('alone', 'MLLP');
    const logLinesAlone = service.logLines() - logLinesBefore;
    const messagesAlone = seq - messagesBefore;

    // the relay, resumed on the backlog those levels left: events handed to Temporal per second
    const waiting = await backlog();
    const relayStart = performance.now();
    await control('relay:resume');
    let left = waiting;
    while (left > 0 && performance.now() - relayStart < relaySeconds * 1000) {
      await new Promise((r) => setTimeout(r, 250));
      left = await backlog();
    }
    const relayElapsed = (performance.now() - relayStart) / 1000;
    console.log(
      `relay: ${waiting - left} of ${waiting} waiting events signalled to Temporal in ${relayElapsed.toFixed(1)} s ` +
        `(${((waiting - left) / relayElapsed).toFixed(0)} events/s: signalWithStart to the dev server on this machine)`,
    );
    // the rest would only load the next phase with old work: marked handed over (this database is dropped after)
    await db`update inbound_messages set dispatched_at = now() where status = 'accepted' and dispatched_at is null`;

    console.log(
      `with the relay live, signalling the Temporal dev server on the same machine (worker ${worker ? 'in its own process' : 'none'}, ` +
        `RELAY_MAX_QUEUED ${process.env.RELAY_MAX_QUEUED ?? '200 (default)'}):`,
    );
    await level('live', 'HTTP', pacedRate);
    await level('live', 'HTTP');
    await level('live', 'MLLP', pacedRate);
    await level('live', 'MLLP');

    const mem = rss(pid);
    const [stored] = await db<
      { n: number }[]
    >`select count(*)::int as n from inbound_messages where status = 'accepted'`;
    console.log(`service process: peak RSS ${mem.peak.toFixed(0)} MiB (now ${mem.now.toFixed(0)} MiB)`);
    console.log(
      `stored ${stored?.n} accepted messages, every one answered AA only after its COMMIT; ` +
        `service log lines during the ingest-alone levels: ${logLinesAlone} for ${messagesAlone} messages`,
    );

    const find = (phase: string, t: string, paced: boolean) =>
      results.find((r) => r.transport === `${phase} ${t}` && r.offered.includes('msg/s') === paced)!;
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
    console.log('targets (2-core machine):');
    for (const phase of ['alone', 'live']) {
      const httpMax = find(phase, 'HTTP', false);
      const mllpMax = find(phase, 'MLLP', false);
      const httpPaced = find(phase, 'HTTP', true);
      const mllpPaced = find(phase, 'MLLP', true);
      console.log(
        `  ${phase === 'alone' ? 'ingest alone' : 'relay live  '}: HTTP ${httpMax.throughput.toFixed(0)} msg/s (≥ 1000 ${verdict(httpMax.throughput >= 1000)}), ` +
          `MLLP ${mllpMax.throughput.toFixed(0)} msg/s (≥ 500 ${verdict(mllpMax.throughput >= 500)}), ` +
          `p99 at ${pacedRate} msg/s HTTP ${httpPaced.p99.toFixed(2)} / MLLP ${mllpPaced.p99.toFixed(2)} ms ` +
          `(≤ 10 ${verdict(httpPaced.p99 <= 10 && mllpPaced.p99 <= 10)}); HTTP max = ` +
          `${((100 * httpMax.throughput) / ceiling.tps).toFixed(0)}% of the ${Math.round(ceiling.tps)} commits/s ceiling`,
      );
    }
    const failed = results.reduce((n, r) => n + r.notAa, 0);
    if (failed > 0) console.log(`WARNING: ${failed} message(s) were not answered AA`);
    console.log(`(whole run ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  } finally {
    await cleanUp();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
