/**
 * A raw MLLP client for the security tests: plain TCP from a chosen local address (`localAddress: '127.0.0.2'` makes
 * a second sender on loopback) or TLS with a client certificate. Collects every framed reply with its own
 * deframing (not the service's), and records how and when the connection ended.
 */
import net from 'node:net';
import tls from 'node:tls';
import { parseAck, type ParsedAck } from '../../src/hl7/ack.js';

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

export const mllpFrame = (message: string | Buffer): Buffer =>
  Buffer.concat([
    Buffer.from([VT]),
    typeof message === 'string' ? Buffer.from(message, 'utf8') : message,
    Buffer.from([FS, CR]),
  ]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface TlsClientOptions {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export class MllpTestClient {
  readonly frames: Buffer[] = [];
  /** any bytes received at all (framed or not) */
  bytesIn = 0;
  closedAt: number | undefined;
  error: string | undefined;
  readonly openedAt = Date.now();
  readonly closed: Promise<void>;
  #buf = Buffer.alloc(0);

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      this.#buf = Buffer.concat([this.#buf, chunk]);
      for (;;) {
        const start = this.#buf.indexOf(VT);
        const end = start === -1 ? -1 : this.#buf.indexOf(FS, start);
        if (start === -1 || end === -1) return;
        this.frames.push(Buffer.from(this.#buf.subarray(start + 1, end)));
        this.#buf = this.#buf.subarray(end + 1);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err.code ?? err.message;
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  /** Plain TCP to 127.0.0.1:`port`, from `localAddress` (default: the kernel's choice, 127.0.0.1). */
  static connect(port: number, opts: { localAddress?: string } = {}): Promise<MllpTestClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({
        port,
        host: '127.0.0.1',
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      });
      s.once('connect', () => resolve(new MllpTestClient(s)));
      s.once('error', reject);
    });
  }

  /**
   * TLS to 127.0.0.1:`port` (the server certificate checked against `ca`), with a client certificate when given.
   * Resolves once the socket exists, whatever the handshake does: a refused handshake shows as `closed`, `error`.
   */
  static connectTls(port: number, opts: TlsClientOptions): Promise<MllpTestClient> {
    return new Promise((resolve) => {
      const s = tls.connect({
        port,
        host: '127.0.0.1',
        ca: opts.ca,
        ...(opts.cert ? { cert: opts.cert } : {}),
        ...(opts.key ? { key: opts.key } : {}),
      });
      const client = new MllpTestClient(s);
      let settled = false;
      const done = () => {
        if (!settled) {
          settled = true;
          resolve(client);
        }
      };
      s.once('secureConnect', done);
      s.once('close', done);
    });
  }

  /** Writes, ignoring a failure (the server may have closed the connection already: tests look at `closed`). */
  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve();
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Sends one framed message and waits for its ACK (or fails when the connection closes first). */
  async send(message: string, timeoutMs = 15_000): Promise<ParsedAck> {
    const before = this.frames.length;
    await this.write(mllpFrame(message));
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length <= before) {
      if (this.closedAt !== undefined)
        throw new Error(`connection closed without an ACK (${this.error ?? 'no error'})`);
      if (Date.now() > deadline) throw new Error('no ACK in time');
      await sleep(10);
    }
    return parseAck(this.frames[before]!.toString('utf8'));
  }

  /** Waits until the connection has closed, or fails after `timeoutMs`; returns how long it stayed open (ms). */
  async waitClosed(timeoutMs = 10_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the service did not close the connection')), timeoutMs);
    });
    try {
      await Promise.race([this.closed, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    return this.closedAt! - this.openedAt;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
