import net from 'node:net';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { DEFAULT_MAX_FRAME_BYTES, FrameTooLargeError, MllpDeframer, frame } from '../hl7/mllp.js';

/** Who sent a message: passed to the handler with every payload, and to `admit` when the connection opens. */
export interface MllpMessageContext {
  /** Peer IP address as the socket saw it (`unknown` if it was already gone). */
  readonly remoteAddress: string;
  /** Unique per server; also in every log line about the connection. */
  readonly connectionId: number;
  /**
   * MLLP over TLS: SHA-256 of the client certificate (verified against the CA during the handshake), 64 upper-case
   * hex digits without colons. Undefined on a plain connection.
   */
  readonly certificateFingerprint?: string;
}

/**
 * Decides at connect time whether a peer may talk at all (CONTRACT.md "Security defaults": a connection from a
 * sender no hospital allows is closed without an ACK). True: serve it; false: close it at once, reading nothing.
 * Throwing means "cannot tell now" (PostgreSQL down): the connection is served, and asked about again before each
 * message until it gets an answer; the handler has its own per-message check.
 */
export type MllpAdmit = (peer: MllpMessageContext) => Promise<boolean>;

/** MLLP over TLS (PEM): the server's certificate and key, and the CA that must have signed every client certificate. */
export interface MllpTlsOptions {
  cert: Buffer | string;
  key: Buffer | string;
  ca: Buffer | string;
}

/**
 * Handles one inbound message (the frame's payload, framing removed) and returns the ACK to send, or `null` to send
 * none (MSH-15 `NE`). A string is sent as UTF-8. Throwing means "not handled": the connection is closed without an
 * ACK, so the sender resends.
 */
export type MllpHandler = (message: Buffer, ctx: MllpMessageContext) => Promise<Buffer | string | null>;

export interface MllpServerOptions {
  handler: MllpHandler;
  logger: Logger;
  /** Largest payload accepted; a bigger frame closes the connection. Default 1 MiB. */
  maxFrameBytes?: number;
  /** A connection with no traffic and nothing in progress for this long is ended. Default 5 minutes. */
  idleTimeoutMs?: number;
  /** Connections beyond this are closed as soon as they are accepted (Node's `server.maxConnections`). Default 100. */
  maxConnections?: number;
  /**
   * A frame must end (0x1C) within this long of its start byte (0x0B), else the connection is ended without an ACK
   * and the unfinished frame is dropped (nothing of it is handled or stored). Default 30 s. Over TLS the handshake
   * gets the same time.
   */
  frameTimeoutMs?: number;
  /** Connect-time sender check; none: every peer is served. */
  admit?: MllpAdmit;
  /** MLLP over TLS with client certificates (`requestCert`, `rejectUnauthorized` against `ca`); none: plain TCP. */
  tls?: MllpTlsOptions;
  /** How long `close()` waits for in-flight handlers and their ACKs before destroying sockets. Default 10 s. */
  drainTimeoutMs?: number;
}

export interface MllpServer {
  /** Starts listening; resolves with the bound port (pass 0 for an ephemeral one). */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Stops accepting, lets each connection's in-flight handler finish and its ACK be written, ends the connections
   * (messages received but not yet started are not handled and not acknowledged: their senders resend), and after
   * `drainTimeoutMs` destroys whatever is left. Idempotent.
   */
  close(): Promise<void>;
  /** Open client connections. */
  readonly connections: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_MAX_CONNECTIONS = 100;
const DEFAULT_FRAME_TIMEOUT_MS = 30_000;
const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** After we end a connection gracefully, how long the peer has to close its side before we destroy the socket. */
const FORCE_CLOSE_AFTER_MS = 5_000;
/** Stop reading once this many received frames wait for their turn (a sender that does not wait for ACKs). */
const MAX_QUEUED_FRAMES = 64;

/**
 * An HL7 v2 MLLP listener (HL7 v2.5.1 Implementation Guide, Appendix C) on `node:net`.
 *
 * Per connection, messages are handled strictly one after another: the handler for frame N+1 starts only after
 * frame N's ACK has been handed to the kernel, so ACKs come back in the order the messages were sent. Nothing from
 * a message's content is ever logged (patient data): only sizes, connection ids, timings and error classes.
 */
export function createMllpServer(opts: MllpServerOptions): MllpServer {
  const log = opts.logger.child({ component: 'mllp' });
  const settings: ConnectionSettings = {
    handler: opts.handler,
    maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    frameTimeoutMs: opts.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS,
    admit: opts.admit,
  };
  const drainTimeoutMs = opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const open = new Set<Connection>();
  /** Sockets whose connect-time check is still running: close() destroys them. */
  const admitting = new Set<Socket>();
  /** Handler runs still going, including those whose socket has already gone: close() waits for them too. */
  const work = new Set<Promise<void>>();
  let nextId = 1;
  let closing: Promise<void> | undefined;

  const socketOptions = { allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 };
  const server: net.Server = opts.tls
    ? tls.createServer({
        ...socketOptions,
        cert: opts.tls.cert,
        key: opts.tls.key,
        ca: opts.tls.ca,
        requestCert: true,
        rejectUnauthorized: true,
        handshakeTimeout: settings.frameTimeoutMs,
        minVersion: 'TLSv1.2',
      })
    : net.createServer(socketOptions);
  server.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;

  const serve = (socket: Socket, ctx: MllpMessageContext, verified: boolean): void => {
    const conn = new Connection(socket, ctx, verified, settings, log, (p) => {
      work.add(p);
      void p.finally(() => work.delete(p));
    });
    open.add(conn);
    socket.once('close', () => open.delete(conn));
    if (closing) conn.drain();
  };

  const onSocket = (socket: Socket): void => {
    const connectionId = nextId++;
    const fingerprint = opts.tls ? certificateFingerprint(socket as TLSSocket) : undefined;
    const ctx: MllpMessageContext = {
      remoteAddress: socket.remoteAddress ?? 'unknown',
      connectionId,
      ...(fingerprint !== undefined ? { certificateFingerprint: fingerprint } : {}),
    };
    const admit = settings.admit;
    if (!admit) {
      serve(socket, ctx, true);
      return;
    }
    // Nothing is read until the peer is admitted: its bytes wait in the socket's buffer (no 'data' listener yet).
    admitting.add(socket);
    const onEarlyError = (): void => undefined;
    socket.on('error', onEarlyError);
    admit(ctx).then(
      (allowed) => {
        admitting.delete(socket);
        socket.off('error', onEarlyError);
        if (socket.destroyed) return;
        if (!allowed) {
          log.warn(
            { connectionId, remoteAddress: ctx.remoteAddress, tls: opts.tls !== undefined },
            'MLLP connection refused: sender not allowed for any hospital; closed without reading',
          );
          socket.destroy();
          return;
        }
        serve(socket, ctx, true);
      },
      (err: unknown) => {
        admitting.delete(socket);
        socket.off('error', onEarlyError);
        if (socket.destroyed) return;
        log.warn(
          { connectionId, errorClass: errorClass(err) },
          'MLLP sender check failed; connection served, checked again before each message',
        );
        serve(socket, ctx, false);
      },
    );
  };

  server.on(opts.tls ? 'secureConnection' : 'connection', onSocket);
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    log.warn(
      { remoteAddress: socket.remoteAddress, code: errorCode(err), errorClass: errorClass(err) },
      'MLLP TLS handshake failed (no client certificate, one not signed by MLLP_TLS_CA, or a timeout); closed',
    );
  });
  server.on('drop', (data) => {
    log.warn(
      { remoteAddress: data?.remoteAddress, maxConnections: server.maxConnections },
      'MLLP connection refused: too many connections',
    );
  });
  server.on('error', (err) => {
    log.error({ errorClass: errorClass(err), code: errorCode(err) }, 'MLLP server error');
  });

  async function close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of admitting) socket.destroy();
    for (const conn of open) conn.drain();
    const settled = Promise.all([...[...open].map((c) => c.closed), ...work]).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), drainTimeoutMs);
    });
    const drained = await Promise.race([settled, timedOut]);
    clearTimeout(timer);
    if (!drained) {
      log.warn({ connections: open.size, handlersRunning: work.size }, 'MLLP drain timed out; destroying connections');
    }
    for (const conn of open) conn.destroy();
    await stopped;
    log.info('MLLP server closed');
  }

  return {
    listen(port, host) {
      return new Promise<number>((resolve, reject) => {
        if (closing) {
          reject(new Error('MLLP server is closed'));
          return;
        }
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const address = server.address();
          const bound = typeof address === 'object' && address !== null ? address.port : port;
          log.info({ port: bound, host: host ?? null }, 'MLLP listening');
          resolve(bound);
        });
      });
    },
    close() {
      closing ??= close();
      return closing;
    },
    get connections() {
      return open.size;
    },
  };
}

interface ConnectionSettings {
  handler: MllpHandler;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  frameTimeoutMs: number;
  admit: MllpAdmit | undefined;
}

/** SHA-256 of the peer's (already verified) certificate as 64 upper-case hex digits; undefined when there is none. */
function certificateFingerprint(socket: TLSSocket): string | undefined {
  const cert = socket.getPeerCertificate();
  const fp = cert && typeof cert.fingerprint256 === 'string' ? cert.fingerprint256.replace(/:/g, '').toUpperCase() : '';
  return /^[0-9A-F]{64}$/.test(fp) ? fp : undefined;
}

/**
 * One client socket: deframes, queues, runs the handler one message at a time, writes ACKs.
 *
 * Two clocks: the idle timer, restarted only when a frame completes or an ACK is written (bytes that complete no
 * frame, such as noise dripped one byte at a time, do not keep a connection alive), and the frame deadline, started
 * at a frame's start byte and stopped at its end (a frame dripped one byte at a time cannot hold the connection).
 */
class Connection {
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;

  readonly #socket: Socket;
  readonly #ctx: MllpMessageContext;
  readonly #settings: ConnectionSettings;
  readonly #log: Logger;
  readonly #track: (work: Promise<void>) => void;
  readonly #deframer: MllpDeframer;
  readonly #queue: Buffer[] = [];
  #queuedBytes = 0;
  /** A handler is running or its ACK is being written. */
  #busy = false;
  /** The handler itself is running (as opposed to waiting for the peer to take an ACK). */
  #handling = false;
  /** `open`: reading and handling; `draining`: finish the in-flight message, then end; `ended`: nothing more. */
  #state: 'open' | 'draining' | 'ended' = 'open';
  #peerEnded = false;
  #waitingForDrain = false;
  #paused = false;
  #forceCloseTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #frameTimer: NodeJS.Timeout | undefined;
  /** The connect-time sender check has answered yes (false while it could not be asked: asked before each message). */
  #verified: boolean;
  #messages = 0;
  #bytesIn = 0;

  constructor(
    socket: Socket,
    ctx: MllpMessageContext,
    verified: boolean,
    settings: ConnectionSettings,
    log: Logger,
    track: (work: Promise<void>) => void,
  ) {
    this.#socket = socket;
    this.#settings = settings;
    this.#track = track;
    this.#ctx = ctx;
    this.#verified = verified;
    this.#log = log.child({ connectionId: ctx.connectionId });
    this.#deframer = new MllpDeframer({ maxFrameBytes: settings.maxFrameBytes });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));

    socket.setNoDelay(true);
    this.#restartIdleTimer();
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => {
      this.#waitingForDrain = false;
      this.#updateFlow();
    });
    socket.on('end', () => {
      this.#peerEnded = true;
      if (!this.#busy) this.#endGracefully();
    });
    socket.on('error', (err) => {
      // ECONNRESET and friends: the peer went away. 'close' follows; never let it reach the process.
      this.#log.info({ code: errorCode(err), errorClass: errorClass(err) }, 'MLLP socket error');
    });
    socket.once('close', () => {
      this.#state = 'ended';
      this.#queue.length = 0;
      clearTimeout(this.#forceCloseTimer);
      clearTimeout(this.#idleTimer);
      clearTimeout(this.#frameTimer);
      this.#log.info(
        { messages: this.#messages, bytesIn: this.#bytesIn, unfinishedFrameBytes: this.#deframer.bufferedBytes },
        'MLLP connection closed',
      );
    });
    this.#log.info(
      { remoteAddress: ctx.remoteAddress, tls: ctx.certificateFingerprint !== undefined, verified },
      'MLLP connection opened',
    );
  }

  /** Server shutdown: stop reading; end once the in-flight message (if any) has been acknowledged. */
  drain(): void {
    if (this.#state !== 'open') return;
    this.#state = 'draining';
    this.#socket.pause();
    this.#paused = true;
    if (this.#queue.length > 0) {
      this.#log.info({ notStarted: this.#queue.length }, 'MLLP shutdown: queued messages left unacknowledged');
    }
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    if (!this.#busy) this.#endGracefully();
  }

  destroy(): void {
    this.#state = 'ended';
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#state !== 'open') return; // ending: read only to see the peer's FIN
    this.#bytesIn += chunk.length;
    const abandonedBefore = this.#deframer.abandonedFrames;
    const wasInFrame = this.#deframer.inFrame;
    let payloads: Buffer[];
    try {
      payloads = this.#deframer.push(chunk);
    } catch (err) {
      if (!(err instanceof FrameTooLargeError)) throw err;
      this.#log.warn(
        { maxFrameBytes: err.maxFrameBytes, bytesIn: this.#bytesIn },
        'MLLP frame too large; destroying connection without ACK',
      );
      this.destroy();
      return;
    }
    if (this.#deframer.abandonedFrames !== abandonedBefore) {
      this.#log.warn(
        { abandoned: this.#deframer.abandonedFrames - abandonedBefore },
        'MLLP frame restarted (0x0B before 0x1C); unfinished frame dropped without ACK',
      );
    }
    // the frame deadline runs from the start byte of the frame now unfinished, if any
    if (!this.#deframer.inFrame) this.#stopFrameDeadline();
    else if (!wasInFrame || payloads.length > 0 || this.#deframer.abandonedFrames !== abandonedBefore) {
      this.#startFrameDeadline();
    }
    if (payloads.length > 0) this.#restartIdleTimer();
    for (const payload of payloads) {
      if (payload.length === 0) {
        this.#log.debug('MLLP empty frame ignored');
        continue;
      }
      this.#queue.push(payload);
      this.#queuedBytes += payload.length;
    }
    this.#updateFlow();
    if (!this.#busy && this.#queue.length > 0) this.#track(this.#pump());
  }

  /** Handles queued messages one at a time until the queue is empty. Never rejects. */
  async #pump(): Promise<void> {
    this.#busy = true;
    try {
      for (let message = this.#queue.shift(); message; message = this.#queue.shift()) {
        this.#queuedBytes -= message.length;
        this.#updateFlow();
        if (!(await this.#handle(message))) return;
        if (this.#state !== 'open') break;
      }
    } catch (err) {
      // Not expected (the handler's own failures are caught in #handle), but never an unhandled rejection.
      this.#log.error({ errorClass: errorClass(err) }, 'MLLP connection failed; destroying it');
      this.destroy();
      return;
    } finally {
      this.#busy = false;
    }
    if (this.#state === 'draining' || this.#peerEnded) this.#endGracefully();
  }

  /** Runs the handler for one message and writes its ACK. False when the connection must not go on. */
  async #handle(message: Buffer): Promise<boolean> {
    const started = performance.now();
    let reply: Buffer | string | null;
    this.#handling = true;
    if (!this.#verified && !(await this.#recheck())) {
      this.#handling = false;
      return false;
    }
    try {
      reply = await this.#settings.handler(message, this.#ctx);
    } catch (err) {
      this.#log.error(
        { messageBytes: message.length, errorClass: errorClass(err), code: errorCode(err) },
        'MLLP handler failed; closing connection without ACK',
      );
      this.#endGracefully();
      return false;
    } finally {
      this.#handling = false;
    }
    this.#messages += 1;
    if (this.#state === 'ended') {
      this.#log.info({ messageBytes: message.length }, 'MLLP connection gone before its ACK could be written');
      return false;
    }
    if (reply === null) {
      this.#log.debug({ messageBytes: message.length }, 'MLLP message handled; no ACK requested');
      return true;
    }
    let ack: Buffer;
    try {
      ack = frame(reply);
    } catch (err) {
      this.#log.error({ errorClass: errorClass(err) }, 'MLLP handler returned an ACK that cannot be framed; closing');
      this.#endGracefully();
      return false;
    }
    const written = await this.#write(ack);
    this.#restartIdleTimer();
    this.#log.debug(
      { messageBytes: message.length, ackBytes: ack.length, ms: Math.round((performance.now() - started) * 10) / 10 },
      'MLLP message acknowledged',
    );
    return written;
  }

  /** Writes and waits until the bytes are handed to the kernel (or the socket failed). */
  #write(bytes: Buffer): Promise<boolean> {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return Promise.resolve(false);
    return new Promise((resolve) => {
      const flushed = socket.write(bytes, (err) => resolve(!err));
      if (!flushed) {
        this.#waitingForDrain = true;
        this.#updateFlow();
      }
    });
  }

  /**
   * The connect-time check could not be made (PostgreSQL down): ask again before this message. No: end the
   * connection without an ACK (false). Yes, or still cannot tell: go on (the handler checks MSH-4's hospital itself).
   */
  async #recheck(): Promise<boolean> {
    const admit = this.#settings.admit;
    if (!admit) return true;
    let allowed: boolean | undefined;
    try {
      allowed = await admit(this.#ctx);
    } catch {
      allowed = undefined;
    }
    if (allowed === false) {
      this.#log.warn(
        { remoteAddress: this.#ctx.remoteAddress },
        'MLLP connection refused: sender not allowed for any hospital; closed without an ACK',
      );
      this.destroy();
      return false;
    }
    if (allowed === true) this.#verified = true;
    return true;
  }

  /** Backpressure: stop reading while the write buffer is full or too many received messages wait. */
  #updateFlow(): void {
    if (this.#state !== 'open') return;
    const shouldPause =
      this.#waitingForDrain ||
      this.#queue.length >= MAX_QUEUED_FRAMES ||
      this.#queuedBytes >= this.#settings.maxFrameBytes;
    if (shouldPause && !this.#paused) {
      this.#socket.pause();
      this.#paused = true;
      // while we do not read, an unfinished frame cannot finish: its deadline starts afresh when reading resumes
      this.#stopFrameDeadline();
    } else if (!shouldPause && this.#paused) {
      this.#socket.resume();
      this.#paused = false;
      if (this.#deframer.inFrame) this.#startFrameDeadline();
    }
  }

  #restartIdleTimer(): void {
    if (this.#state === 'ended') return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#onIdle(), this.#settings.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  #startFrameDeadline(): void {
    clearTimeout(this.#frameTimer);
    if (this.#state !== 'open') return;
    this.#frameTimer = setTimeout(() => this.#onFrameDeadline(), this.#settings.frameTimeoutMs);
    this.#frameTimer.unref();
  }

  #stopFrameDeadline(): void {
    clearTimeout(this.#frameTimer);
    this.#frameTimer = undefined;
  }

  #onFrameDeadline(): void {
    if (this.#state !== 'open' || !this.#deframer.inFrame) return;
    this.#log.warn(
      { frameTimeoutMs: this.#settings.frameTimeoutMs, unfinishedFrameBytes: this.#deframer.bufferedBytes },
      'MLLP frame not finished within the frame deadline; ending the connection without an ACK',
    );
    this.#endGracefully();
  }

  #onIdle(): void {
    if (this.#state === 'ended') return;
    if (this.#handling) {
      // A slow handler is not idleness: look again later. (A peer that stops reading its ACKs is.)
      this.#restartIdleTimer();
      return;
    }
    this.#log.info({ idleTimeoutMs: this.#settings.idleTimeoutMs }, 'MLLP connection idle; ending it');
    this.#endGracefully();
  }

  /**
   * Sends FIN after whatever is already written (earlier ACKs are not lost, as they could be with a reset), keeps
   * reading and discarding until the peer closes, and destroys the socket if it does not within a few seconds.
   */
  #endGracefully(): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    clearTimeout(this.#idleTimer);
    this.#stopFrameDeadline();
    this.#socket.end();
    this.#socket.resume();
    this.#paused = false;
    this.#forceCloseTimer = setTimeout(() => this.#socket.destroy(), FORCE_CLOSE_AFTER_MS);
    this.#forceCloseTimer.unref();
  }
}

/** The error's class name: safe to log (its message might quote patient data). */
function errorClass(err: unknown): string {
  if (err instanceof Error) return err.constructor.name;
  return typeof err;
}

/** A symbolic error code such as `ECONNRESET`, when there is one. */
function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : undefined;
}
