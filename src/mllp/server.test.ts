import net from 'node:net';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CR, FS, MllpDeframer, VT, frame } from '../hl7/mllp.js';
import { createMllpServer } from './server.js';
import type { MllpHandler, MllpMessageContext, MllpServer, MllpServerOptions } from './server.js';

/** Patient data that must never show up in a log line. */
const PATIENT = 'SMITH^MARGARET';
const msg = (id: string): string =>
  `MSH|^~\\&|PAS|RX1|AA|AA|20261122092000||ADT^A01|${id}|P|2.4\rPID|1||9995260182^^^NHS^NH||${PATIENT}\r`;
const controlId = (message: Buffer | string): string => message.toString().split('\r')[0]?.split('|')[9] ?? '';
/** The test handler's ACK names the message it answers. */
const ackFor = (id: string): string => `ACK:${id}`;
const echo: MllpHandler = async (m) => ackFor(controlId(m));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(overrides: Partial<MllpServerOptions> = {}): Promise<{
  server: MllpServer;
  port: number;
  logs: string[];
}> {
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const server = createMllpServer({ handler: echo, logger, ...overrides });
  const port = await server.listen(0, '127.0.0.1');
  cleanups.push(() => server.close());
  return { server, port, logs };
}

/** A sending system: writes raw bytes, collects the ACK payloads it receives. */
class Sender {
  readonly acks: string[] = [];
  readonly rawBytes: Buffer[] = [];
  readonly closed: Promise<void>;
  error: NodeJS.ErrnoException | undefined;
  #isClosed = false;
  #listeners: Array<() => boolean> = [];
  readonly #deframer = new MllpDeframer({ maxFrameBytes: 16 * 1024 * 1024 });

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.rawBytes.push(chunk);
      for (const ack of this.#deframer.push(chunk)) this.acks.push(ack.toString());
      this.#notify();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true;
        this.#notify();
        resolve();
      }),
    );
    cleanups.push(() => void socket.destroy());
  }

  static connect(port: number): Promise<Sender> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new Sender(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes in one `write` call and waits until the bytes are handed to the kernel. */
  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** Resolves with the first `count` ACKs; rejects if the connection closes first or it takes too long. */
  waitForAcks(count: number, timeoutMs = 5_000): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${this.acks.length}/${count} ACKs`)), timeoutMs);
      const check = (): boolean => {
        if (this.acks.length >= count) resolve(this.acks.slice(0, count));
        else if (this.#isClosed) reject(new Error(`closed with ${this.acks.length}/${count} ACKs`));
        else return false;
        clearTimeout(timer);
        return true;
      };
      if (!check()) this.#listeners.push(check);
    });
  }

  #notify(): void {
    this.#listeners = this.#listeners.filter((check) => !check());
  }
}

/** Polls until `condition` holds (server-side bookkeeping lags the client's view by a tick or two). */
async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** Yields to the event loop long enough for separate writes to reach the server as separate reads. */
const settle = (): Promise<unknown> => sleep(5);

describe('MLLP server', () => {
  it('answers a message with its ACK, framed as 0x0B ACK 0x1C 0x0D', async () => {
    const { port, logs } = await startServer();
    const sender = await Sender.connect(port);
    await sender.write(frame(msg('M1')));
    expect(await sender.waitForAcks(1)).toEqual([ackFor('M1')]);
    expect(Buffer.concat(sender.rawBytes)).toEqual(frame(ackFor('M1')));
    expect(logs.join('')).not.toContain(PATIENT); // not even at debug level
  });

  it('answers every message when several frames arrive in one TCP write', async () => {
    const { port } = await startServer();
    const sender = await Sender.connect(port);
    await sender.write(Buffer.concat(['M1', 'M2', 'M3'].map((id) => frame(msg(id)))));
    expect(await sender.waitForAcks(3)).toEqual(['M1', 'M2', 'M3'].map(ackFor));
  });

  it('reassembles a message split across several TCP writes', async () => {
    const received: string[] = [];
    const { port } = await startServer({ handler: async (m) => (received.push(m.toString()), ackFor(controlId(m))) });
    const sender = await Sender.connect(port);
    const bytes = frame(msg('M1'));
    for (const [from, to] of [
      [0, 1],
      [1, 20],
      [20, 50],
      [50, bytes.length],
    ] as const) {
      await sender.write(bytes.subarray(from, to));
      await settle();
    }
    expect(await sender.waitForAcks(1)).toEqual([ackFor('M1')]);
    expect(received).toEqual([msg('M1')]);
  });

  it('answers exactly once when a write ends between 0x1C and 0x0D, and the next message still gets its ACK', async () => {
    const { port } = await startServer();
    const sender = await Sender.connect(port);
    const first = frame(msg('M1'));
    await sender.write(first.subarray(0, -1)); // ... 0x1C
    await settle();
    await sender.write(Buffer.concat([Buffer.from([CR]), frame(msg('M2'))]));
    expect(await sender.waitForAcks(2)).toEqual([ackFor('M1'), ackFor('M2')]);
    await settle();
    expect(sender.acks).toHaveLength(2);
  });

  it('reassembles messages sent one byte per TCP write', async () => {
    const received: string[] = [];
    const { port } = await startServer({ handler: async (m) => (received.push(m.toString()), ackFor(controlId(m))) });
    const sender = await Sender.connect(port);
    const bytes = Buffer.concat([frame(msg('M1')), frame(msg('M2'))]);
    for (let i = 0; i < bytes.length; i += 1) {
      await sender.write(bytes.subarray(i, i + 1));
      if (i % 16 === 0) await new Promise(setImmediate);
    }
    expect(await sender.waitForAcks(2)).toEqual([ackFor('M1'), ackFor('M2')]);
    expect(received).toEqual([msg('M1'), msg('M2')]);
  });

  it('discards garbage before 0x0B and newlines between frames, handing the handler only the message', async () => {
    const received: string[] = [];
    const { port } = await startServer({ handler: async (m) => (received.push(m.toString()), ackFor(controlId(m))) });
    const sender = await Sender.connect(port);
    await sender.write(Buffer.concat([Buffer.from('garbage\x00\xff\r\n'), frame(msg('M1')), Buffer.from('\r\n')]));
    await sender.write(frame(msg('M2')));
    expect(await sender.waitForAcks(2)).toEqual([ackFor('M1'), ackFor('M2')]);
    expect(received).toEqual([msg('M1'), msg('M2')]);
  });

  it('handles one message at a time per connection and returns ACKs in sending order, whatever each one takes', async () => {
    const started: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const { port } = await startServer({
      handler: async (m) => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        started.push(controlId(m));
        await sleep(Math.floor(Math.random() * 15));
        running -= 1;
        return ackFor(controlId(m));
      },
    });
    const sender = await Sender.connect(port);
    const ids = Array.from({ length: 25 }, (_, i) => `M${i + 1}`);
    // All 25 sent at once, without waiting for ACKs.
    await sender.write(Buffer.concat(ids.map((id) => frame(msg(id)))));
    expect(await sender.waitForAcks(ids.length)).toEqual(ids.map(ackFor));
    expect(started).toEqual(ids);
    expect(maxRunning).toBe(1);
  });

  it('sends no ACK for a handler result of null (MSH-15 NE) and still answers the next message', async () => {
    const { port } = await startServer({
      handler: async (m) => (controlId(m) === 'NOACK' ? null : ackFor(controlId(m))),
    });
    const sender = await Sender.connect(port);
    await sender.write(Buffer.concat([frame(msg('NOACK')), frame(msg('M2'))]));
    expect(await sender.waitForAcks(1)).toEqual([ackFor('M2')]);
    await settle();
    expect(sender.acks).toEqual([ackFor('M2')]);
  });

  it('closes the connection without an ACK when the handler throws, handles nothing after it, and logs no patient data', async () => {
    const handled: string[] = [];
    const { port, logs } = await startServer({
      handler: async (m) => {
        handled.push(controlId(m));
        if (controlId(m) === 'BOOM') throw new TypeError(`cannot store ${m.toString()}`);
        return ackFor(controlId(m));
      },
    });
    const sender = await Sender.connect(port);
    await sender.write(Buffer.concat([frame(msg('M1')), frame(msg('BOOM')), frame(msg('M3'))]));
    await sender.closed;
    expect(sender.acks).toEqual([ackFor('M1')]);
    expect(handled).toEqual(['M1', 'BOOM']);
    const logText = logs.join('');
    expect(logText).toContain('"errorClass":"TypeError"');
    expect(logText).not.toContain(PATIENT);
    expect(logText).not.toContain('9995260182');
  });

  it('closes the connection without an ACK on a frame over 1 MiB, and keeps serving the next sender', async () => {
    const handled: string[] = [];
    const { server, port, logs } = await startServer({
      handler: async (m) => (handled.push(controlId(m)), ackFor(controlId(m))),
    });
    const big = await Sender.connect(port);
    const oversize = Buffer.concat([Buffer.from([VT]), Buffer.from(msg('BIG')), Buffer.alloc(1024 * 1024, 0x41)]);
    big.write(Buffer.concat([oversize, Buffer.from([FS, CR])])).catch(() => undefined); // may fail: we get reset
    await big.closed;
    expect(big.acks).toEqual([]);
    expect(handled).toEqual([]);
    expect(logs.join('')).toContain('MLLP frame too large');

    const next = await Sender.connect(port);
    await next.write(frame(msg('M2')));
    expect(await next.waitForAcks(1)).toEqual([ackFor('M2')]);
    await until(() => server.connections === 1);
  });

  it('honours a smaller maxFrameBytes', async () => {
    const { port } = await startServer({ maxFrameBytes: 100 });
    const sender = await Sender.connect(port);
    await sender.write(frame('x'.repeat(101))).catch(() => undefined);
    await sender.closed;
    expect(sender.acks).toEqual([]);
  });

  it('ends a connection that stays idle for idleTimeoutMs, but not one that keeps talking', async () => {
    const { server, port } = await startServer({ idleTimeoutMs: 150 });
    const idle = await Sender.connect(port);
    const busy = await Sender.connect(port);
    const openedAt = performance.now();
    for (let i = 1; i <= 6; i += 1) {
      await busy.write(frame(msg(`M${i}`)));
      await busy.waitForAcks(i);
      await sleep(50);
    }
    await idle.closed;
    const idleFor = performance.now() - openedAt;
    expect(idleFor).toBeGreaterThanOrEqual(140);
    expect(idle.error).toBeUndefined(); // ended cleanly (FIN), not reset
    expect(busy.acks).toHaveLength(6);
    expect(busy.socket.destroyed).toBe(false);
    await busy.closed; // and it too ends once it falls silent
    await until(() => server.connections === 0);
  });

  it('does not count a slow handler as idleness', async () => {
    const { port } = await startServer({
      idleTimeoutMs: 50,
      handler: async (m) => (await sleep(200), ackFor(controlId(m))),
    });
    const sender = await Sender.connect(port);
    await sender.write(frame(msg('SLOW')));
    expect(await sender.waitForAcks(1)).toEqual([ackFor('SLOW')]);
  });

  it('survives a sender that resets the connection mid-frame and keeps serving others', async () => {
    const { server, port, logs } = await startServer();
    const rude = await Sender.connect(port);
    await rude.write(frame(msg('M1')).subarray(0, 30));
    await settle();
    rude.socket.resetAndDestroy();
    await rude.closed;

    const next = await Sender.connect(port);
    await next.write(frame(msg('M2')));
    expect(await next.waitForAcks(1)).toEqual([ackFor('M2')]);
    await until(() => server.connections === 1);
    expect(logs.join('')).toContain('ECONNRESET');
  });

  it('survives a sender that resets while its message is being handled', async () => {
    let release: () => void = () => undefined;
    const handled = new Promise<void>((resolve) => (release = resolve));
    const { port } = await startServer({
      handler: async (m) => {
        await handled;
        return ackFor(controlId(m));
      },
    });
    const rude = await Sender.connect(port);
    await rude.write(frame(msg('M1')));
    await settle();
    rude.socket.resetAndDestroy();
    await rude.closed;
    await sleep(20);
    release(); // its ACK has nowhere to go; the server must just carry on
    const next = await Sender.connect(port);
    await next.write(frame(msg('M2')));
    expect(await next.waitForAcks(1)).toEqual([ackFor('M2')]);
  });

  it('still sends the ACK when the sender half-closes right after its message', async () => {
    const { port } = await startServer();
    const sender = await Sender.connect(port);
    sender.socket.end(frame(msg('M1')));
    expect(await sender.waitForAcks(1)).toEqual([ackFor('M1')]);
    await sender.closed;
  });

  it('stops reading from a sender that does not read its ACKs, and loses nothing once it does', async () => {
    const bigAck = 'A'.repeat(256 * 1024);
    let handled = 0;
    const { port } = await startServer({
      handler: async (m) => {
        handled += 1;
        return `${controlId(m)}|${bigAck}`;
      },
    });
    const sender = await Sender.connect(port);
    sender.socket.pause();
    const count = 300; // 75 MiB of ACKs if the server never stopped
    const ids = Array.from({ length: count }, (_, i) => `M${i + 1}`);
    for (const id of ids) sender.socket.write(frame(msg(id)));
    let previous = -1;
    while (handled !== previous) {
      previous = handled;
      await sleep(200);
    }
    expect(handled).toBeLessThan(count);
    sender.socket.resume();
    const acks = await sender.waitForAcks(count, 15_000);
    expect(acks.map((a) => a.split('|')[0])).toEqual(ids);
  });

  it('refuses connections beyond maxConnections while serving the ones it has', async () => {
    const { port } = await startServer({ maxConnections: 1 });
    const first = await Sender.connect(port);
    await first.write(frame(msg('M1')));
    await first.waitForAcks(1);
    const second = await Sender.connect(port);
    await second.closed;
    await first.write(frame(msg('M2')));
    expect(await first.waitForAcks(2)).toEqual([ackFor('M1'), ackFor('M2')]);
  });

  it('on close(), lets the in-flight message finish and be acknowledged, then ends connections and stops listening', async () => {
    let signalStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (signalStarted = resolve));
    const handled: string[] = [];
    const { server, port } = await startServer({
      handler: async (m) => {
        handled.push(controlId(m));
        signalStarted();
        await sleep(200);
        return ackFor(controlId(m));
      },
    });
    const sender = await Sender.connect(port);
    await sender.write(Buffer.concat([frame(msg('M1')), frame(msg('M2'))]));
    await started;
    const closing = server.close();
    await expect(Sender.connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await closing;
    await sender.closed;
    // M1 was in flight: handled and acknowledged. M2 had not started: neither handled nor acknowledged (resent later).
    expect(sender.acks).toEqual([ackFor('M1')]);
    expect(handled).toEqual(['M1']);
    expect(server.connections).toBe(0);
  });

  it('on close(), gives up on a handler that outlasts drainTimeoutMs and destroys its connection', async () => {
    const { server, port } = await startServer({ drainTimeoutMs: 100, handler: () => new Promise(() => undefined) });
    const sender = await Sender.connect(port);
    await sender.write(frame(msg('STUCK')));
    await settle();
    await server.close(); // returns although the handler never will
    await sender.closed;
    expect(sender.acks).toEqual([]);
  });

  it('ends a connection whose frame does not finish within frameTimeoutMs of its start byte, handling nothing of it', async () => {
    const handled: string[] = [];
    const { port, logs } = await startServer({
      frameTimeoutMs: 300,
      handler: async (m) => (handled.push(controlId(m)), ackFor(controlId(m))),
    });
    const dripper = await Sender.connect(port);
    const bytes = frame(msg('DRIP'));
    const openedAt = performance.now();
    // one byte every 50 ms: the socket never falls silent, but the frame would take seconds
    const drip = (async () => {
      for (const b of bytes) {
        if (dripper.socket.destroyed || dripper.socket.writableEnded) return;
        dripper.socket.write(Buffer.from([b]), () => undefined);
        await sleep(50);
      }
    })();
    await dripper.closed;
    await drip;
    expect(performance.now() - openedAt).toBeGreaterThanOrEqual(280);
    expect(performance.now() - openedAt).toBeLessThan(2_000);
    expect(dripper.acks).toEqual([]);
    expect(handled).toEqual([]);
    expect(logs.join('')).toContain('frame deadline');
  });

  it('the frame deadline runs per frame: a sender whose frames each finish in time is never cut off', async () => {
    const { port } = await startServer({ frameTimeoutMs: 200 });
    const sender = await Sender.connect(port);
    for (let i = 1; i <= 4; i++) {
      const bytes = frame(msg(`M${i}`));
      await sender.write(bytes.subarray(0, 20));
      await sleep(100);
      await sender.write(bytes.subarray(20));
      await sender.waitForAcks(i);
    }
    expect(sender.socket.destroyed).toBe(false);
  });

  it('bytes that complete no frame do not keep a connection alive past idleTimeoutMs', async () => {
    const { port } = await startServer({ idleTimeoutMs: 300 });
    const noisy = await Sender.connect(port);
    const openedAt = performance.now();
    const noise = (async () => {
      while (!noisy.socket.destroyed && !noisy.socket.writableEnded && performance.now() - openedAt < 3_000) {
        noisy.socket.write('x', () => undefined);
        await sleep(50);
      }
    })();
    await noisy.closed;
    await noise;
    expect(performance.now() - openedAt).toBeLessThan(2_000);
  });

  it('defaults to at most 100 connections', async () => {
    const { port } = await startServer();
    const senders = await Promise.all(Array.from({ length: 100 }, () => Sender.connect(port)));
    const extra = await Sender.connect(port);
    await extra.closed;
    expect(extra.acks).toEqual([]);
    await senders[99]!.write(frame(msg('M100')));
    expect(await senders[99]!.waitForAcks(1)).toEqual([ackFor('M100')]);
  });

  it('admit: a refused peer is closed without anything of it being handled; an admitted one is served', async () => {
    const handled: string[] = [];
    const seen: string[] = [];
    let allow = false;
    const { port, logs } = await startServer({
      admit: async (peer) => (seen.push(peer.remoteAddress), allow),
      handler: async (m) => (handled.push(controlId(m)), ackFor(controlId(m))),
    });
    const refused = await Sender.connect(port);
    refused.socket.write(frame(msg('NO')), () => undefined);
    await refused.closed;
    expect(refused.acks).toEqual([]);
    expect(handled).toEqual([]);
    expect(seen).toEqual(['127.0.0.1']);
    expect(logs.join('')).toContain('sender not allowed for any hospital');

    allow = true;
    const admitted = await Sender.connect(port);
    await admitted.write(frame(msg('YES')));
    expect(await admitted.waitForAcks(1)).toEqual([ackFor('YES')]);
    expect(handled).toEqual(['YES']);
  });

  it('admit: bytes sent before the answer are kept and handled once the peer is admitted', async () => {
    let release: (ok: boolean) => void = () => undefined;
    const { port } = await startServer({ admit: () => new Promise<boolean>((resolve) => (release = resolve)) });
    const sender = await Sender.connect(port);
    await sender.write(Buffer.concat([frame(msg('EARLY1')), frame(msg('EARLY2'))]));
    await sleep(50);
    expect(sender.acks).toEqual([]);
    release(true);
    expect(await sender.waitForAcks(2)).toEqual([ackFor('EARLY1'), ackFor('EARLY2')]);
  });

  it('admit: when the check cannot be made, the connection is served and asked about again before each message', async () => {
    const answers: (boolean | Error)[] = [new Error('database down'), new Error('still down'), false];
    const handled: string[] = [];
    const { port } = await startServer({
      admit: async () => {
        const a = answers.shift() ?? true;
        if (a instanceof Error) throw a;
        return a;
      },
      handler: async (m) => (handled.push(controlId(m)), ackFor(controlId(m))),
    });
    const sender = await Sender.connect(port);
    // connect: error (served); M1: error again (handled: the handler has its own check); M2: no → closed, no ACK
    await sender.write(frame(msg('M1')));
    expect(await sender.waitForAcks(1)).toEqual([ackFor('M1')]);
    sender.socket.write(frame(msg('M2')), () => undefined);
    await sender.closed;
    expect(sender.acks).toEqual([ackFor('M1')]);
    expect(handled).toEqual(['M1']);
  });

  it('passes the peer to the handler: address and connection id; no certificate on plain TCP', async () => {
    const contexts: MllpMessageContext[] = [];
    const { port } = await startServer({ handler: async (m, ctx) => (contexts.push(ctx), ackFor(controlId(m))) });
    const sender = await Sender.connect(port);
    await sender.write(frame(msg('M1')));
    await sender.waitForAcks(1);
    expect(contexts).toEqual([{ remoteAddress: '127.0.0.1', connectionId: expect.any(Number) }]);
  });
});
