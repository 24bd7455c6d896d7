/**
 * `npm run bench:parse`: the CPU cost of the HL7 v2 edge, in process, with no database, Temporal or network beyond
 * loopback (a few seconds). Not a test: it prints figures beside the targets they used to be asserted against in
 * unit tests, and exits 0 either way (a loaded machine makes slow runs; judge them with the load average it prints).
 *
 * - parseHl7: decode + parse a typical A01 (test/fixtures/hl7/a01-admit.hl7) and read PID-3 and PV1-19;
 *   target under 0.5 ms a message.
 * - MllpDeframer: a 1 MiB frame delivered in 1-byte and 16-byte chunks (linear in bytes, not quadratic).
 * - the MLLP server with a handler that answers at once: one connection, stop and wait (send a frame, wait for its
 *   ACK); target at least 500 messages a second. `npm run bench:ingest` measures the whole ingest path.
 *
 * Knobs: BENCH_PARSE_MESSAGES (default 20000), BENCH_MLLP_MESSAGES (default 2000).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { pino } from 'pino';
import { decodeHl7Bytes, parseHl7 } from '../src/hl7/message.js';
import { MllpDeframer, frame } from '../src/hl7/mllp.js';
import { createMllpServer } from '../src/mllp/server.js';

const parseMessages = Number(process.env.BENCH_PARSE_MESSAGES ?? 20_000);
const mllpMessages = Number(process.env.BENCH_MLLP_MESSAGES ?? 2_000);

const report = (name: string, figure: string, target?: { met: boolean; text: string }) => {
  const line = `${name.padEnd(44)} ${figure.padEnd(52)} ${target ? `${target.text}: ${target.met ? 'met' : 'NOT met'}` : ''}`;
  process.stdout.write(`${line.trimEnd()}\n`);
};
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

function benchParse(): void {
  const admit = readFileSync(new URL('../test/fixtures/hl7/a01-admit.hl7', import.meta.url), 'utf8');
  const buf = Buffer.from(admit.replace(/\r?\n/g, '\r'));
  const once = () => {
    const m = parseHl7(decodeHl7Bytes(buf));
    m.segment('PID')?.cx(3);
    m.segment('PV1')?.component(19, 1);
  };
  for (let i = 0; i < 2_000; i++) once(); // warm up
  const start = performance.now();
  for (let i = 0; i < parseMessages; i++) once();
  const perMessageMs = (performance.now() - start) / parseMessages;
  report(
    `parseHl7 (A01, ${parseMessages} messages)`,
    `${(perMessageMs * 1000).toFixed(1)} µs/message (${Math.round(1000 / perMessageMs)}/s)`,
    { met: perMessageMs < 0.5, text: 'target < 500 µs' },
  );
}

function benchDeframer(): void {
  const payload = Buffer.alloc(1024 * 1024 - 1, 0x41);
  const bytes = frame(payload);
  for (const size of [1, 16]) {
    const d = new MllpDeframer();
    let frames = 0;
    const start = performance.now();
    for (let i = 0; i < bytes.length; i += size) frames += d.push(bytes.subarray(i, i + size)).length;
    const ms = performance.now() - start;
    if (frames !== 1) throw new Error(`deframer returned ${frames} frames`);
    report(`MllpDeframer, 1 MiB in ${size}-byte chunks`, `${ms.toFixed(0)} ms`, {
      met: ms < 5_000,
      text: 'target < 5 s',
    });
  }
}

async function benchMllpServer(): Promise<void> {
  const controlId = (m: Buffer) => m.toString('latin1').split('\r')[0]?.split('|')[9] ?? '';
  const server = createMllpServer({
    handler: async (m) =>
      `MSH|^~\\&|AA|AA|PAS|RX1|20261122092000||ACK|A${controlId(m)}|P|2.4\rMSA|AA|${controlId(m)}\r`,
    logger: pino({ level: 'info' }, { write: () => undefined }),
  });
  const port = await server.listen(0, '127.0.0.1');
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const deframer = new MllpDeframer();
  let acks = 0;
  let waiting: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    acks += deframer.push(chunk).length;
    waiting?.();
  });
  const message = (i: number) =>
    `MSH|^~\\&|PAS|RX1|AA|AA|20261122092000||ADT^A01|M${i}|P|2.4\rPID|1||9995260182^^^NHS^NH||SMITH^MARGARET\r`;
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 1; i <= mllpMessages; i++) {
    const sent = performance.now();
    socket.write(frame(message(i)));
    await new Promise<void>((resolve) => {
      waiting = () => {
        if (acks >= i) resolve();
      };
      waiting();
    });
    latencies.push(performance.now() - sent);
  }
  const perSecond = mllpMessages / ((performance.now() - start) / 1000);
  latencies.sort((a, b) => a - b);
  socket.destroy();
  await server.close();
  report(
    `MLLP server, stop and wait (${mllpMessages} messages)`,
    `${Math.round(perSecond)} msg/s, ACK p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms`,
    { met: perSecond >= 500, text: 'target >= 500 msg/s' },
  );
}

process.stdout.write(
  `bench:parse on ${os.cpus().length} CPUs, Node ${process.version}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n`,
);
benchParse();
benchDeframer();
await benchMllpServer();
