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
 *   in a child process (bench/service.ts) with the default LOG_LEVEL (info) and NODE_ENV=production; no worker
 *   (workflows wait in the task queue, as they would for a separate worker fleet);
 * - offered load: HTTP with 8 concurrent senders on keep-alive connections, and one MLLP connection, stop and
 *   wait; each paced at 200 msg/s and then as fast as they go; first with the relay paused (the ingest path
 *   alone; the relay is then watched draining what those levels stored), then with the relay live (every message
 *   also signalled to the Temporal dev server, which shares the machine's two cores). Every message is a new A01
 *   (its own MSH-10, visit and NHS number). Latency runs from a message's planned send time (paced) or its send
 *   (max) to its whole ACK.
 *
 * Knobs: BENCH_SECONDS (each max level; paced levels run twice as long; default 5), BENCH_PACED_RATE (default
 * 200), BENCH_RELAY_SECONDS (how long the relay is watched draining, default 8), BENCH_PROFILE_DIR (write a V8
 * CPU profile of the service there).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { migrate } from '../src/db/client.js';
import { findTemporalCli, freePort, startDevServer, type DevServer } from '../src/temporal/dev-server.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const adminUrl =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const pacedRate = Number(process.env.BENCH_PACED_RATE ?? 200);
/** how long the relay is watched draining the backlog of the ingest-alone levels */
const relaySeconds = Number(process.env.BENCH_RELAY_SECONDS ?? 8);
const HTTP_SENDERS = 8;
const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

interface ServiceStats {
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
}

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

function nhsNumber(): string {
  for (;;) {
    const d = [9, 9, 9, ...Array.from({ length: 6 }, () => randomInt(10))];
    const check = 11 - (d.reduce((acc, x, i) => acc + x * (10 - i), 0) % 11);
    if (check === 10) continue;
    return [...d, check === 11 ? 0 : check].join('');
  }
}
const nhsPool = Array.from({ length: 512 }, nhsNumber);
const runTag = randomBytes(3).toString('hex').toUpperCase();
let seq = 0;

/** A new A01 for a new spell: its own MSH-10, visit number (PV1-19) and NHS number. About 700 bytes. */
function nextA01(): string {
  const n = ++seq;
  const id = `B${runTag}${n}`;
  const nhs = nhsPool[n % nhsPool.length]!;
  return [
    `MSH|^~\\&|PAS|RX1|ADMISSION-ALERTS|NHSE|20261122093000||ADT^A01^ADT_A01|${id}|P|2.4|||||GBR|UNICODE UTF-8|EN`,
    `EVN|A01|20261122092500|||C1234^NURSE^JANE|20261122092000`,
    `PID|1||${nhs}^^^NHS^NH~RX1${n}^^^RX1^MR||SMITH^MARGARET^ANN^^MRS||19410312|F|||12 High Street^^Leeds^^LS1 4AB^GBR^H||01134960000|||||||||||||||||N`,
    `PD1|||Leeds Medical Practice^^B86001|G1234567^DOCTOR^GRACE`,
    `PV1|1|I|RX1WD12^B3^12^RX1^^^^^Ward 12 Elderly Care|21|||C123456^CONSULTANT^CARL|||300||||19|||C123456^CONSULTANT^CARL||V${id}^^^RX1^VN|||||||||||||||||||||||||20261122092000`,
    `PV2|||^Fall at home`,
  ].join('\r');
}

/** MSA-1 of an ACK. */
function ackCode(ack: string): string {
  const at = ack.indexOf('MSA|');
  return at < 0 ? '' : ack.slice(at + 4, at + 6);
}

// ---------------------------------------------------------------------------------------------------------------
// load

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

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

const sleepUntil = (t: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, t - performance.now())));

/** HTTP: `senders` concurrent senders on keep-alive connections; paced at `rate` msg/s, or as fast as they go. */
async function httpLoad(port: number, apiKey: string, durationMs: number, rate?: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_SENDERS });
  const post = (body: string) =>
    new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/hl7',
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${apiKey}`,
            'content-type': 'x-application/hl7-v2+er7',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const latencies: number[] = [];
  let notAa = 0;
  let next = 0;
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(
    Array.from({ length: HTTP_SENDERS }, async () => {
      for (;;) {
        const k = next++;
        const planned = rate ? start + (k * 1000) / rate : performance.now();
        if (planned >= end) return;
        if (rate) await sleepUntil(planned);
        const body = nextA01();
        const sentAt = rate ? planned : performance.now();
        const ack = await post(body);
        latencies.push(performance.now() - sentAt);
        if (ackCode(ack) !== 'AA') notAa++;
      }
    }),
  );
  const elapsed = performance.now() - start;
  agent.destroy();
  return { latencies, elapsed, notAa };
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
// the service process

/** Current and peak resident set size of a process, MiB (Linux /proc). */
function rss(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  const dbName = `aa_bench_${randomBytes(5).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  const [pg] = await admin<{ version: string }[]>`select current_setting('server_version') as version`;
  await admin.unsafe(`create database ${dbName}`);
  const dbUrlObj = new URL(adminUrl);
  dbUrlObj.pathname = `/${dbName}`;
  const dbUrl = dbUrlObj.toString();
  let dev: DevServer | undefined;
  let child: ChildProcess | undefined;
  let db: postgres.Sql | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child!.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await dev?.stop();
      await db?.end();
      await admin.unsafe(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    })());
  // Ctrl-C: the service, the dev server and the database go too
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    db = postgres(dbUrl, { max: 2, onnotice: () => undefined });
    await migrate(db);

    const cpu = os.cpus();
    console.log(`admission-alerts ingest benchmark, ${new Date().toISOString()}`);
    console.log(
      `machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; ` +
        `Node ${process.version}; PostgreSQL ${pg?.version}`,
    );

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
    const [httpPortWanted, mllpPortWanted] = [await freePort(), await freePort()];
    const adminToken = randomBytes(16).toString('hex');
    let logLines = 0;
    const profile = process.env.BENCH_PROFILE_DIR
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
      : [];
    child = spawn(process.execPath, [...profile, '--import', 'tsx', join(root, 'bench/service.ts')], {
      cwd: root,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: dbUrl,
        TEMPORAL_ADDRESS: dev.address,
        TEMPORAL_TASK_QUEUE: `bench-${runTag}`,
        ADMIN_TOKEN: adminToken,
        PORT: String(httpPortWanted),
        MLLP_PORT: String(mllpPortWanted),
        // served as in production (counted on every message), on a free port
        METRICS_PORT: String(await freePort()),
        HOST: '127.0.0.1',
        PUBLIC_BASE_URL: `http://127.0.0.1:${httpPortWanted}`,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const service = child;
    let errOut = '';
    service.stdout?.on('data', (d: Buffer) => (logLines += d.toString().split('\n').length - 1));
    service.stderr?.on('data', (d: Buffer) => (errOut = (errOut + d.toString()).slice(-4000)));
    const { httpPort: port, mllpPort } = await new Promise<{ httpPort: number; mllpPort: number }>(
      (resolve, reject) => {
        service.on('message', (m: { ready?: boolean; httpPort: number; mllpPort: number }) => m.ready && resolve(m));
        service.once('exit', (code) => reject(new Error(`the service exited with code ${code}\n${errOut}`)));
      },
    );
    const serviceStats = () =>
      new Promise<ServiceStats>((resolve) => {
        const onMessage = (m: { stats?: ServiceStats }) => {
          if (!m.stats) return;
          service.off('message', onMessage);
          resolve(m.stats);
        };
        service.on('message', onMessage);
        service.send('stats:get');
      });
    const control = (what: 'relay:pause' | 'relay:resume' | 'stats:reset') =>
      new Promise<void>((resolve) => {
        const onMessage = (m: { done?: string }) => {
          if (m.done !== what) return;
          service.off('message', onMessage);
          resolve();
        };
        service.on('message', onMessage);
        service.send(what);
      });
    const pid = child.pid!;

    const reg = await fetch(`http://127.0.0.1:${port}/v1/hospitals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ odsCode: 'RX1', name: 'Benchmark General', mllpAllowedCidrs: ['127.0.0.1/32'] }),
    });
    const { apiKey } = (await reg.json()) as { apiKey: string };

    const backlog = async () =>
      (
        await db!<{ n: number }[]>`
        select count(*)::int as n from inbound_messages where status = 'accepted' and dispatched_at is null`
      )[0]!.n;

    // warm-up (JIT, pool connections, prepared statements, the relay's first workflows), not measured
    await httpLoad(port, apiKey, 5000);
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
      const r = transport === 'HTTP' ? await httpLoad(port, apiKey, ms, rate) : await mllpLoad(mllpPort, ms, rate);
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
    };

    const logLinesBefore = logLines;
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
    const logLinesAlone = logLines - logLinesBefore;
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

    console.log('with the relay live, signalling the Temporal dev server on the same machine:');
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
