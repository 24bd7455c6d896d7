/**
 * The whole service, in process, on real sockets: its own database on the real PostgreSQL, a task queue of its own
 * on the run's Temporal dev server, HTTP and MLLP on free ports. What tests drive as a hospital and a provider.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { freePort } from '../../src/temporal/dev-server.js';
import { startService, type RunningService, type ServiceOptions } from '../../src/service.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export interface TestService extends RunningService {
  baseUrl: string;
  adminToken: string;
  db: TestDatabase;
  taskQueue: string;
  /** HTTP helper: JSON in, JSON out, with a bearer key */
  api(
    method: string,
    path: string,
    opts?: { key?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  stop(): Promise<void>;
}

let bundleCode: string | undefined;

export async function startTestService(
  opts: {
    env?: Record<string, string>;
    roles?: ServiceOptions['roles'];
    db?: TestDatabase;
    taskQueue?: string;
    /** the service's logger (default: pino at TEST_LOG_LEVEL, else silent), e.g. to assert on log lines */
    logger?: ServiceOptions['logger'];
  } = {},
): Promise<TestService> {
  const db = opts.db ?? (await createTestDatabase(inject('postgresUrl')));
  // a replica of another test service passes that one's ADMIN_TOKEN (and so derives the same CSRF secret)
  const adminToken = opts.env?.ADMIN_TOKEN ?? `admin-${randomBytes(16).toString('hex')}`;
  const taskQueue = opts.taskQueue ?? `aa-test-${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    HOST: '127.0.0.1',
    MLLP_PORT: '0',
    // off unless a test turns it on: every service of a run would want the default 9464
    METRICS_PORT: '0',
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: taskQueue,
    ADMIN_TOKEN: adminToken,
    ADMISSION_LINGER_SECONDS: '5',
    RELAY_POLL_MS: '200',
    LOG_LEVEL: 'silent',
    // the webhook receivers of the tests listen on 127.0.0.1 over http; a test of the guard itself sets it 'false'
    ALLOW_LOOPBACK_WEBHOOKS: 'true',
    ...opts.env,
  });
  bundleCode ??= readFileSync(inject('workflowBundlePath'), 'utf8');
  const logger = opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? config.logLevel });
  const svc = await startService({
    config: config as ServiceOptions['config'],
    logger,
    roles: opts.roles ?? ['api', 'worker'],
    workflowBundle: { code: bundleCode },
    mllpListenPort: 0,
  });
  const baseUrl = `http://127.0.0.1:${svc.httpPort}`;
  return {
    ...svc,
    baseUrl,
    adminToken,
    db,
    taskQueue,
    async api(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.key) headers.authorization = `Bearer ${o.key}`;
      let body: string | undefined;
      if (o.body !== undefined) {
        body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(baseUrl + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async stop() {
      await svc.stop();
      if (!opts.db) await db.drop();
    },
  };
}
