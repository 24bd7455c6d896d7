/**
 * Once per test run: one real Temporal dev server (the CLI `npm ci` leaves, see findTemporalCli) with its Web UI on a
 * free port, the workflow bundle, and a check that PostgreSQL answers. Test files get them with `inject()`.
 *
 * Both the `int` and the `e2e` project name this file, and vitest runs a project's globalSetup once per project
 * (in the main process, one project after the other). The first call starts everything and the second reuses it
 * (kept on `globalThis`, which the calls share; module state is per project), so a run that has both projects
 * still starts one dev server and bundles once; the last teardown stops it. `npm run test:unit` runs neither.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import {
  TEMPORAL_CLI_MISSING,
  findTemporalCli,
  freePort,
  startDevServer,
  type DevServer,
} from '../../src/temporal/dev-server.js';
import { bundleWorkflows } from '../../src/temporal/worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    /** the dev server's Web UI, e.g. http://127.0.0.1:43210 */
    temporalUiUrl: string;
    temporalCliPath: string;
    workflowBundlePath: string;
    postgresUrl: string;
  }
}

interface Shared {
  users: number;
  started: Promise<{ server: DevServer; bundleDir: string; provided: Provided }>;
}
type Provided = {
  temporalAddress: string;
  temporalUiUrl: string;
  temporalCliPath: string;
  workflowBundlePath: string;
  postgresUrl: string;
};

const KEY = Symbol.for('admission-alerts.test-global-setup');
const slot = globalThis as unknown as { [KEY]?: Shared };

async function start() {
  const postgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const sql = postgres(postgresUrl, { max: 1, onnotice: () => undefined });
  try {
    await sql`select 1`;
  } catch (err) {
    throw new Error(`PostgreSQL is not answering at ${postgresUrl}: ${(err as Error).message}`);
  } finally {
    await sql.end();
  }
  const cli = findTemporalCli(process.env.TEMPORAL_CLI_PATH);
  if (!cli) throw new Error(TEMPORAL_CLI_MISSING);
  const uiPort = await freePort();
  const [server, bundle] = await Promise.all([startDevServer({ cliPath: cli, uiPort }), bundleWorkflows()]);
  const bundleDir = mkdtempSync(join(tmpdir(), 'aa-bundle-'));
  const workflowBundlePath = join(bundleDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);
  const provided: Provided = {
    temporalAddress: server.address,
    temporalUiUrl: `http://127.0.0.1:${uiPort}`,
    temporalCliPath: cli,
    workflowBundlePath,
    postgresUrl,
  };
  return { server, bundleDir, provided };
}

export default async function setup(project: TestProject) {
  const shared = (slot[KEY] ??= { users: 0, started: start() });
  shared.users++;
  let started: Awaited<Shared['started']>;
  try {
    started = await shared.started;
  } catch (err) {
    shared.users--;
    if (shared.users === 0) delete slot[KEY];
    throw err;
  }
  for (const [key, value] of Object.entries(started.provided)) project.provide(key as keyof Provided, value);
  return async () => {
    shared.users--;
    if (shared.users > 0) return;
    delete slot[KEY];
    await started.server.stop();
    rmSync(started.bundleDir, { recursive: true, force: true });
  };
}
