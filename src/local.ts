/**
 * Everything on one machine, as `npm start` runs it (and `npm run demo`, on top). With no DATABASE_URL, an embedded
 * PostgreSQL under DATA_DIR; with no TEMPORAL_ADDRESS, `temporal server start-dev` with its Web UI on 8233 and its
 * state under DATA_DIR (a restart keeps running workflows); then migrations, worker, relay, HTTP API and MLLP.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, type Config } from './config.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { startService, type RunningService, type ServiceOptions } from './service.js';
import { TEMPORAL_CLI_MISSING, findTemporalCli, startDevServer } from './temporal/dev-server.js';

export interface LocalService {
  service: RunningService;
  temporalAddress: string;
  /** the Temporal Web UI, when this process started the dev server */
  uiUrl: string | undefined;
  adminToken: string;
  /** the token was generated (and may be printed), not given in ADMIN_TOKEN */
  adminTokenGenerated: boolean;
  /** the lines `npm start` prints once everything is up */
  banner(): string[];
  /** stops everything, the embedded servers last */
  stop(): Promise<void>;
}

/**
 * The admin token: ADMIN_TOKEN, else one generated on first start and kept under DATA_DIR so it stays the same.
 * `generated` says whether it may be printed: a token supplied through the environment never is (CONTRACT.md
 * "Security defaults"); the operator already has it, and logs and terminals are read by others.
 */
function adminToken(config: Config): { token: string; generated: boolean } {
  if (config.adminToken) return { token: config.adminToken, generated: false };
  const file = join(config.dataDir, 'admin-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), generated: true };
  mkdirSync(config.dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, generated: true };
}

/**
 * Starts the embedded servers that are not configured, then the service with every role. A Temporal CLI that is
 * neither found nor downloadable stops the start with one line saying what to install (a ConfigError).
 */
export async function startLocal(config: Config, logger: Logger): Promise<LocalService> {
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
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
        // no CLI on this machine: the SDK downloads one (CONTRACT.md), which needs internet
        const { TestWorkflowEnvironment } = await import('@temporalio/testing');
        const env = await TestWorkflowEnvironment.createLocal({
          server: { ui: true, uiPort: 8233, dbFilename: join(config.dataDir, 'temporal.db') },
        }).catch((err: unknown) => {
          logger.debug({ err: (err as Error).message }, 'the Temporal SDK could not download the CLI');
          throw new ConfigError(TEMPORAL_CLI_MISSING);
        });
        cleanups.push(() => env.teardown());
        temporalAddress = env.address;
        uiUrl = 'http://localhost:8233';
      }
    }

    const { token, generated } = adminToken(config);
    const service = await startService({
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
    cleanups.push(service.stop);
    const address = temporalAddress;
    return {
      service,
      temporalAddress: address,
      uiUrl,
      adminToken: token,
      adminTokenGenerated: generated,
      stop: stopAll,
      banner: () => [
        `  API            http://localhost:${service.httpPort}   (health: /health/ready)`,
        service.mllpPort !== undefined
          ? `  MLLP           localhost:${service.mllpPort}`
          : '  MLLP           off (MLLP_PORT=0)',
        `  Temporal UI    ${uiUrl ?? `(external Temporal at ${address})`}`,
        service.metricsPort !== undefined
          ? `  Metrics        http://localhost:${service.metricsPort}/metrics`
          : '  Metrics        off (METRICS_PORT=0)',
        generated
          ? `  Admin token    ${token}   (kept in ${join(config.dataDir, 'admin-token')})`
          : '  Admin token    from ADMIN_TOKEN (not shown)',
      ],
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
