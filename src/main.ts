/**
 * `npm start`: everything a newcomer needs on one machine. With no DATABASE_URL, an embedded PostgreSQL under
 * .data/; with no TEMPORAL_ADDRESS, `temporal server start-dev` with its Web UI on 8233 and its state under .data/
 * (a restart keeps running workflows); then migrations, worker, relay, HTTP API and MLLP listener.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedPostgres } from './db/embedded.js';
import { boot, fail, onShutdown } from './entry.js';
import { startService, type ServiceOptions } from './service.js';
import { findTemporalCli, startDevServer } from './temporal/dev-server.js';

const { config, logger } = boot();
const cleanups: (() => Promise<void>)[] = [];
const stopAll = async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
};

/**
 * The admin token: ADMIN_TOKEN, else one generated on first start and kept under .data/ so it stays the same.
 * `generated` says whether it may be printed: a token supplied through the environment never is (CONTRACT.md
 * "Security defaults"); the operator already has it, and logs and terminals are read by others.
 */
function adminToken(): { token: string; generated: boolean } {
  if (config.adminToken) return { token: config.adminToken, generated: false };
  const file = join(config.dataDir, 'admin-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), generated: true };
  mkdirSync(config.dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, generated: true };
}

try {
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres(config.dataDir);
    cleanups.push(pg.stop);
    databaseUrl = pg.url;
    logger.info({ dir: join(config.dataDir, 'pglite') }, 'embedded PostgreSQL started');
  }

  let temporalAddress = config.temporal.address;
  let uiUrl: string | undefined;
  let registerSearchAttributes = true;
  if (!temporalAddress) {
    const cli = findTemporalCli(config.temporal.cliPath);
    if (cli) {
      const dev = await startDevServer({
        cliPath: cli,
        port: 7233,
        uiPort: 8233,
        dbFilename: join(config.dataDir, 'temporal.db'),
        namespace: config.temporal.namespace,
      });
      cleanups.push(dev.stop);
      temporalAddress = dev.address;
      uiUrl = dev.uiUrl;
      registerSearchAttributes = false;
    } else {
      // no CLI on this machine: let the SDK download one (needs internet)
      const { TestWorkflowEnvironment } = await import('@temporalio/testing');
      const env = await TestWorkflowEnvironment.createLocal({
        server: { ui: true, uiPort: 8233, dbFilename: join(config.dataDir, 'temporal.db') },
      });
      cleanups.push(() => env.teardown());
      temporalAddress = env.address;
      uiUrl = 'http://localhost:8233';
    }
  }

  const { token, generated } = adminToken();
  const svc = await startService({
    config: {
      ...config,
      databaseUrl,
      adminToken: token,
      temporal: { ...config.temporal, address: temporalAddress },
    } as ServiceOptions['config'],
    logger,
    roles: ['api', 'worker'],
    registerSearchAttributes,
  });
  cleanups.push(svc.stop);
  onShutdown(logger, stopAll);

  const lines = [
    '',
    'admission-alerts is running',
    `  API            http://localhost:${svc.httpPort}   (health: /health/ready)`,
    svc.mllpPort !== undefined ? `  MLLP           localhost:${svc.mllpPort}` : '  MLLP           off (MLLP_PORT=0)',
    `  Temporal UI    ${uiUrl ?? `(external Temporal at ${temporalAddress})`}`,
    svc.metricsPort !== undefined
      ? `  Metrics        http://localhost:${svc.metricsPort}/metrics`
      : '  Metrics        off (METRICS_PORT=0)',
    generated
      ? `  Admin token    ${token}   (kept in ${join(config.dataDir, 'admin-token')})`
      : '  Admin token    from ADMIN_TOKEN (not shown)',
    '  Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
} catch (err) {
  await stopAll();
  fail(logger, err);
}
