/**
 * What the `bench:*` scripts share: a fresh database, the service under benchmark in a child process
 * (bench/service.ts) with its IPC controls (its log to the file BENCH_SERVICE_LOG, if set), HTTP senders of HL7 v2 messages, new A01s, percentiles, RSS. Not a test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { migrate } from '../src/db/client.js';
import { freePort } from '../src/temporal/dev-server.js';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const adminUrl =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

// ---------------------------------------------------------------------------------------------------------------
// messages

/**
 * The NHS number in the 999 test range whose next six digits are `k` (0 ≤ k < 10^6), or undefined when no check
 * digit fits (modulus 11 gives 10: about one k in eleven).
 */
export function nhsNumberAt(k: number): string | undefined {
  const d = [9, 9, 9, ...String(k).padStart(6, '0').split('').map(Number)];
  const check = 11 - (d.reduce((acc, x, i) => acc + x * (10 - i), 0) % 11);
  if (check === 10) return undefined;
  return [...d, check === 11 ? 0 : check].join('');
}

/** A random NHS number in the 999 test range that passes the modulus 11 check. */
export function nhsNumber(): string {
  for (;;) {
    const n = nhsNumberAt(randomInt(1_000_000));
    if (n) return n;
  }
}

/**
 * An A01 for a new spell: MSH-10 `id`, visit number (PV1-19) `visit`, NHS number `nhs`, born 12 March 1941. About
 * 700 bytes, from hospital RX1.
 */
export function a01(o: { id: string; visit: string; nhs: string }): string {
  const { id, visit, nhs } = o;
  return [
    `MSH|^~\\&|PAS|RX1|ADMISSION-ALERTS|NHSE|20261122093000||ADT^A01^ADT_A01|${id}|P|2.4|||||GBR|UNICODE UTF-8|EN`,
    `EVN|A01|20261122092500|||C1234^NURSE^JANE|20261122092000`,
    `PID|1||${nhs}^^^NHS^NH~RX1${id}^^^RX1^MR||SMITH^MARGARET^ANN^^MRS||19410312|F|||12 High Street^^Leeds^^LS1 4AB^GBR^H||01134960000|||||||||||||||||N`,
    `PD1|||Leeds Medical Practice^^B86001|G1234567^DOCTOR^GRACE`,
    `PV1|1|I|RX1WD12^B3^12^RX1^^^^^Ward 12 Elderly Care|21|||C123456^CONSULTANT^CARL|||300||||19|||C123456^CONSULTANT^CARL||${visit}^^^RX1^VN|||||||||||||||||||||||||20261122092000`,
    `PV2|||^Fall at home`,
  ].join('\r');
}

/** The date of birth {@link a01} gives, as a client registration has it. */
export const A01_DATE_OF_BIRTH = '1941-03-12';

/** MSA-1 of an ACK. */
export function ackCode(ack: string): string {
  const at = ack.indexOf('MSA|');
  return at < 0 ? '' : ack.slice(at + 4, at + 6);
}

// ---------------------------------------------------------------------------------------------------------------
// load

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const sleepUntil = (t: number) => sleep(Math.max(0, t - performance.now()));

/** POSTs HL7 v2 messages to /v1/hl7 as a hospital over keep-alive connections; resolves with the ACK. */
export function hl7Poster(port: number, apiKey: string, sockets: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
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
  return { post, close: () => agent.destroy() };
}

/**
 * HL7 over HTTP from `senders` concurrent senders on keep-alive connections, for `durationMs` or until `count`
 * messages are sent (whichever comes first); paced at `rate` msg/s, or as fast as they go. `next(k)` makes the k-th
 * message. Latency runs from a message's planned send time (paced) or its send (max) to its whole ACK.
 */
export async function httpLoad(opts: {
  port: number;
  apiKey: string;
  senders: number;
  next: (k: number) => string;
  durationMs?: number;
  count?: number;
  rate?: number;
}) {
  const { rate, count = Infinity } = opts;
  const poster = hl7Poster(opts.port, opts.apiKey, opts.senders);
  const latencies: number[] = [];
  let notAa = 0;
  let next = 0;
  const start = performance.now();
  const end = start + (opts.durationMs ?? Infinity);
  await Promise.all(
    Array.from({ length: opts.senders }, async () => {
      for (;;) {
        const k = next++;
        if (k >= count) return;
        const planned = rate ? start + (k * 1000) / rate : performance.now();
        if (planned >= end) return;
        if (rate) await sleepUntil(planned);
        const body = opts.next(k);
        const sentAt = rate ? planned : performance.now();
        const ack = await poster.post(body);
        latencies.push(performance.now() - sentAt);
        if (ackCode(ack) !== 'AA') notAa++;
      }
    }),
  );
  const elapsed = performance.now() - start;
  poster.close();
  return { latencies, elapsed, notAa };
}

// ---------------------------------------------------------------------------------------------------------------
// the machine, the database, the service process

/** Current and peak resident set size of a process, MiB (Linux /proc). */
export function rss(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** CPU time (user + system) a process has used so far, seconds (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14, 15) in clock ticks
}

/** CPU seconds used by a process and its descendants so far (Linux /proc). */
export function treeCpuSeconds(pid: number): number {
  const stats = new Map<number, { ppid: number; cpu: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      stats.set(Number(entry), { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const walk = (p: number) => {
    total += stats.get(p)?.cpu ?? 0;
    for (const [child, s] of stats) if (s.ppid === p) walk(child);
  };
  walk(pid);
  return total;
}

/** CPU used by the dev server, the service and this process over a part: "dev server 87%, service 33%" of a core. */
export function cpuMeter(devPid: number, servicePid: number | undefined, workerPid?: number) {
  const read = () => ({
    at: performance.now(),
    dev: treeCpuSeconds(devPid),
    service: servicePid ? treeCpuSeconds(servicePid) : 0,
    worker: workerPid ? treeCpuSeconds(workerPid) : 0,
    bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  });
  const start = read();
  return () => {
    const end = read();
    const s = (end.at - start.at) / 1000;
    const pct = (x: number) => `${((100 * x) / s).toFixed(0)}%`;
    return (
      `CPU (of one core): dev server ${pct(end.dev - start.dev)}, service ${pct(end.service - start.service)}, ` +
      (workerPid ? `worker ${pct(end.worker - start.worker)}, ` : '') +
      `this benchmark ${pct(end.bench - start.bench)}; load average ${os.loadavg()[0]!.toFixed(2)}`
    );
  };
}

/** The whole machine's busy share of its CPU time (all cores, 0–1) over the next `ms` (Linux, os.cpus()). */
export async function machineBusy(ms: number): Promise<number> {
  const read = () =>
    os.cpus().reduce(
      (a, c) => {
        const { user, nice, sys, irq, idle } = c.times;
        return { busy: a.busy + user + nice + sys + irq, all: a.all + user + nice + sys + irq + idle };
      },
      { busy: 0, all: 0 },
    );
  const start = read();
  await sleep(ms);
  const end = read();
  return (end.busy - start.busy) / Math.max(1, end.all - start.all);
}

/**
 * Waits until the machine is quiet (under `threshold` of its CPU for 5 s in a row: the dev server, PostgreSQL's
 * checkpoints and autovacuum and the service have digested what came before), at most `maxMs`. Returns how long it
 * waited and the busy share it last saw.
 */
export async function untilQuiet(threshold = 0.1, maxMs = 600_000): Promise<{ waitedMs: number; busy: number }> {
  const start = performance.now();
  let busy = await machineBusy(5000);
  while (busy >= threshold && performance.now() - start < maxMs) busy = await machineBusy(5000);
  return { waitedMs: performance.now() - start, busy };
}

/** One line on the machine, for the top of a benchmark's output. */
export function machineLine(pgVersion: string): string {
  const cpu = os.cpus();
  return (
    `machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; ` +
    `Node ${process.version}; PostgreSQL ${pgVersion}; load average ${os.loadavg()[0]!.toFixed(2)}`
  );
}

/** A fresh, migrated database on the PostgreSQL at {@link adminUrl}; `drop()` removes it. */
export async function benchDatabase() {
  const name = `aa_bench_${randomBytes(5).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  const [pg] = await admin<{ version: string }[]>`select current_setting('server_version') as version`;
  await admin.unsafe(`create database ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const sql = postgres(url, { max: 2, onnotice: () => undefined });
  await migrate(sql);
  return {
    url,
    sql,
    pgVersion: pg?.version ?? '?',
    async drop() {
      await sql.end();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** Where the service process's time and memory went since `stats:reset` (bench/service.ts). */
export interface ServiceStats {
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  /** workflows in the worker's cache (undefined without the worker role) */
  cachedWorkflows?: number;
}

export type ServiceControl = 'relay:pause' | 'relay:resume' | 'stats:reset' | 'gc';

export interface ServiceProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  mllpPort: number;
  adminToken: string;
  /** log lines the service wrote to stdout so far */
  logLines(): number;
  stats(): Promise<ServiceStats>;
  control(what: ServiceControl): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts bench/service.ts in a child process: `roles` as `startService` takes them, against `dbUrl` and the
 * Temporal at `temporalAddress`, with `env` on top (e.g. NODE_ENV, LOG_LEVEL). `profileDir`: a V8 CPU profile.
 */
export async function startServiceProcess(opts: {
  dbUrl: string;
  temporalAddress: string;
  taskQueue: string;
  roles: ('api' | 'worker')[];
  env?: Record<string, string>;
  profileDir?: string;
  /** node flags before the script, e.g. `--expose-gc` */
  nodeFlags?: string[];
}): Promise<ServiceProcess> {
  const [httpPortWanted, mllpPortWanted] = [await freePort(), await freePort()];
  const adminToken = randomBytes(16).toString('hex');
  let logLines = 0;
  const profile = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [];
  const child = spawn(
    process.execPath,
    [...profile, ...(opts.nodeFlags ?? []), '--import', 'tsx', join(root, 'bench/service.ts')],
    {
      cwd: root,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: opts.dbUrl,
        TEMPORAL_ADDRESS: opts.temporalAddress,
        TEMPORAL_TASK_QUEUE: opts.taskQueue,
        ADMIN_TOKEN: adminToken,
        PORT: String(httpPortWanted),
        MLLP_PORT: String(mllpPortWanted),
        // served as in production (counted on every message), on a free port
        METRICS_PORT: String(await freePort()),
        HOST: '127.0.0.1',
        PUBLIC_BASE_URL: `http://127.0.0.1:${httpPortWanted}`,
        BENCH_ROLES: opts.roles.join(','),
        // as `npm start` (package.json) and the Dockerfile run it
        MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  let errOut = '';
  const log = process.env.BENCH_SERVICE_LOG ? createWriteStream(process.env.BENCH_SERVICE_LOG) : undefined;
  child.stdout?.on('data', (d: Buffer) => {
    logLines += d.toString().split('\n').length - 1;
    log?.write(d);
  });
  child.stderr?.on('data', (d: Buffer) => (errOut = (errOut + d.toString()).slice(-4000)));
  const { httpPort: port, mllpPort } = await new Promise<{ httpPort: number; mllpPort: number }>((resolve, reject) => {
    child.on('message', (m: { ready?: boolean; httpPort: number; mllpPort: number }) => m.ready && resolve(m));
    child.once('exit', (code) => reject(new Error(`the service exited with code ${code}\n${errOut}`)));
  });
  const ask = <T>(send: string, pick: (m: Record<string, unknown>) => T | undefined) =>
    new Promise<T>((resolve) => {
      const onMessage = (m: Record<string, unknown>) => {
        const v = pick(m);
        if (v === undefined) return;
        child.off('message', onMessage);
        resolve(v);
      };
      child.on('message', onMessage);
      child.send(send);
    });
  return {
    child,
    pid: child.pid!,
    port,
    mllpPort,
    adminToken,
    logLines: () => logLines,
    stats: () => ask('stats:get', (m) => m.stats as ServiceStats | undefined),
    control: (what) => ask(what, (m) => (m.done === what ? true : undefined)).then(() => undefined),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Ctrl-C (or SIGTERM): `cleanUp` runs once, then the process exits. */
export function onInterrupt(cleanUp: () => Promise<void>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
}

/** Registers hospital RX1 through the API as the operator; returns its API key. */
export async function registerBenchHospital(svc: Pick<ServiceProcess, 'port' | 'adminToken'>): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${svc.port}/v1/hospitals`, {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ odsCode: 'RX1', name: 'Benchmark General', mllpAllowedCidrs: ['127.0.0.1/32'] }),
  });
  if (res.status !== 201) throw new Error(`registering the hospital: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { apiKey: string }).apiKey;
}
