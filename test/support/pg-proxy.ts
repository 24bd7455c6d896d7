/**
 * A TCP proxy on `node:net` to put between the service and a real server (PostgreSQL by default) so that a test
 * can take the server "down" and bring it back without touching the server itself, which other tests share.
 *
 * - `up` (the start state): every connection is forwarded, byte for byte, to the target.
 * - `refuse()`: new connections are accepted and reset at once (the client sees ECONNRESET before any byte), as
 *   when PostgreSQL is restarting; connections already open are left alone unless `killConnections()` is called.
 * - `down()`: `refuse()` plus `killConnections()`: what the service sees when the database goes away.
 * - `killConnections()`: resets every open connection (both sides), e.g. in the middle of a transaction.
 */
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

export interface TcpProxy {
  /** the port the proxy listens on, on 127.0.0.1 */
  readonly port: number;
  /** connections currently forwarded */
  readonly openConnections: number;
  /** connections accepted since the start (forwarded or refused) */
  readonly acceptedConnections: number;
  /** `postgresUrl` with its host and port replaced by this proxy's */
  url(postgresUrl: string): string;
  /** forward new connections again */
  up(): void;
  /** reset new connections; open ones stay */
  refuse(): void;
  /** reset every open connection, both towards the client and towards the target */
  killConnections(): void;
  /** refuse new connections and kill open ones */
  down(): void;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  targetHost?: string;
  targetPort?: number;
}

/** Starts a proxy on 127.0.0.1 (free port) towards `targetHost:targetPort` (default PostgreSQL on 127.0.0.1:5432). */
export async function startTcpProxy(opts: TcpProxyOptions = {}): Promise<TcpProxy> {
  const targetHost = opts.targetHost ?? '127.0.0.1';
  const targetPort = opts.targetPort ?? 5432;
  let refusing = false;
  let accepted = 0;
  const pairs = new Set<{ client: Socket; upstream: Socket }>();

  const server = net.createServer({ noDelay: true }, (client) => {
    accepted++;
    if (refusing) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: targetHost, port: targetPort, noDelay: true });
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      if (!pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const killConnections = () => {
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      if (!pair.client.destroyed) pair.client.resetAndDestroy();
      if (!pair.upstream.destroyed) pair.upstream.resetAndDestroy();
    }
  };

  return {
    port,
    get openConnections() {
      return pairs.size;
    },
    get acceptedConnections() {
      return accepted;
    },
    url(postgresUrl) {
      const u = new URL(postgresUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    up() {
      refusing = false;
    },
    refuse() {
      refusing = true;
    },
    killConnections,
    down() {
      refusing = true;
      killConnections();
    },
    async close() {
      refusing = true;
      killConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A proxy in front of the test run's PostgreSQL (whatever host and port `postgresUrl` names). */
export function startPgProxy(postgresUrl: string): Promise<TcpProxy> {
  const u = new URL(postgresUrl);
  return startTcpProxy({ targetHost: u.hostname || '127.0.0.1', targetPort: Number(u.port || 5432) });
}
