/**
 * Composes the service from its parts. `npm start` runs every role in one process; production runs the api
 * (HTTP + MLLP + relay) and the worker as separate processes. Tests start it the same way.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Server } from 'node:http';
import type { WorkflowBundle } from '@temporalio/worker';
import type { Logger } from 'pino';
import connectPgSimple from 'connect-pg-simple';
import session from 'express-session';
import pg from 'pg';
import { createActivities } from '../activities/index.js';
import { ConfigError, csrfSecretOf, sessionSecretOf, type Config } from './config.js';
import { migrate, openDatabase, ping, type Database } from './db/client.js';
import * as metricsQueries from './db/metrics.js';
import * as rateLimits from './db/rate-limits.js';
import { createApp } from './http/app.js';
import { createIngest, type Ingest } from './ingest/ingest.js';
import { startRelay, type Relay } from './ingest/relay.js';
import { createMetrics, registerDatabaseGauges, type ServiceMetrics } from './metrics/metrics.js';
import { startMetricsServer, type ExtraMetrics } from './metrics/server.js';
import { sdkMetricsAddress, sdkMetricsReader } from './metrics/temporal-sdk.js';
import { createMllpSenderAuth } from './mllp/sender-auth.js';
import { createMllpServer, type MllpServer, type MllpTlsOptions } from './mllp/server.js';
import type { NotifySender, WebhookSender } from './notify/channel.js';
import {
  checkNotifyAtStart,
  createGovukNotify,
  describeNotifyConfiguration,
  notifyHealthReporter,
} from './notify/govuk-notify.js';
import { createWebhookSender } from './notify/webhook.js';
import { connectTemporal, ensureSearchAttributes, temporalHealthy, type TemporalHandle } from './temporal/client.js';
import { keepFeedWatchers } from './temporal/feeds.js';
import { createWorker, installRuntime } from './temporal/worker.js';

export type Role = 'api' | 'worker';

export interface ServiceOptions {
  config: Config & { databaseUrl: string; temporal: Config['temporal'] & { address: string } };
  logger: Logger;
  roles: Role[];
  /** a pre-built workflow bundle (tests bundle once per run) */
  workflowBundle?: WorkflowBundle;
  /** register search attributes through the operator API (not needed on a dev server started with them) */
  registerSearchAttributes?: boolean;
  /** replace the real channels (never in production; tests use the real ones against local fakes) */
  notify?: NotifySender;
  webhook?: WebhookSender;
  csrfSecret?: string;
  /** listen for MLLP here instead of MLLP_PORT (tests pass 0 for a free port; MLLP_PORT=0 means off) */
  mllpListenPort?: number;
}

export interface RunningService {
  database: Database;
  temporal: TemporalHandle;
  ingest: Ingest;
  relay?: Relay;
  httpPort?: number;
  mllpPort?: number;
  /** where `GET /metrics` listens (undefined when METRICS_PORT=0) */
  metricsPort?: number;
  stop(): Promise<void>;
}

export async function startService(opts: ServiceOptions): Promise<RunningService> {
  const { config, logger } = opts;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'error while stopping');
      }
    }
  };
  if (config.allowLoopbackWebhooks) {
    // loadConfig refuses it in production; this is for a config built some other way
    if (config.production) {
      throw new ConfigError('Invalid configuration: ALLOW_LOOPBACK_WEBHOOKS must not be true when NODE_ENV=production');
    }
    logger.warn(
      'ALLOW_LOOPBACK_WEBHOOKS=true: webhooks may go to loopback addresses (localhost, 127.0.0.0/8, ::1), over http too; for tests and demos only',
    );
  }
  // before anything starts: a TLS file that cannot be used stops the process with one line
  const mllpTls = config.mllpTls && opts.roles.includes('api') ? readMllpTls(config.mllpTls) : undefined;
  try {
    const database = openDatabase(config.databaseUrl);
    stops.push(() => database.close());
    await migrate(database.sql);

    const temporal = await connectTemporal({
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
    });
    stops.push(() => temporal.close());
    if (opts.registerSearchAttributes) await ensureSearchAttributes(temporal.connection, config.temporal.namespace);

    // counted only when someone can read them (METRICS_PORT=0: nothing is counted, nothing listens)
    const metrics: ServiceMetrics | undefined = config.metricsPort !== 0 ? createMetrics() : undefined;
    const extraMetrics: ExtraMetrics[] = [];
    let metricsPort: number | undefined;
    if (metrics) {
      registerDatabaseGauges(
        metrics,
        () => metricsQueries.snapshot(database),
        (err) => logger.warn({ err: (err as Error).message }, 'cannot read the database gauges for /metrics'),
      );
      // first, so that a port in use stops the start before anything runs; the worker adds the SDK's part below
      const server = await startMetricsServer({
        port: config.metricsPort,
        host: config.host,
        registry: metrics.registry,
        extra: extraMetrics,
        logger,
      }).catch((err: NodeJS.ErrnoException) => {
        throw new Error(
          `cannot serve /metrics on ${config.host}:${config.metricsPort} (METRICS_PORT): ${err.code ?? err.message}`,
        );
      });
      stops.push(() => server.close());
      metricsPort = server.port;
    }

    const ingest = createIngest({ db: database, logger, metrics });
    const mllpSenders = createMllpSenderAuth({ db: database, logger });
    const running: RunningService = { database, temporal, ingest, metricsPort, stop: stopAll };

    // one Notify sender per process: the worker sends with it, /health/ready reports what Notify last said
    const notify =
      opts.notify ??
      createGovukNotify({
        apiKey: config.notify.apiKey,
        baseUrl: config.notify.baseUrl,
        smsTemplateId: config.notify.smsTemplateId,
        emailTemplateId: config.notify.emailTemplateId,
        operatorTemplateId: config.notify.operatorTemplateId,
        signInTemplateId: config.notify.signInTemplateId,
        logger,
      });
    await checkNotifyAtStart(notify, logger);

    if (opts.roles.includes('worker')) {
      // before any worker or native connection: the SDK's runtime, with its metrics served on a loopback port
      const sdkAddress = metrics ? await sdkMetricsAddress() : undefined;
      if (installRuntime(logger, { prometheusBindAddress: sdkAddress })) {
        if (sdkAddress) extraMetrics.push(sdkMetricsReader(sdkAddress));
      } else if (sdkAddress) {
        logger.warn('the Temporal SDK was started before in this process: /metrics has no temporal_* metrics');
      }
      const notifyProblem = describeNotifyConfiguration(config.notify);
      if (notifyProblem) logger.warn(notifyProblem);
      const webhook = opts.webhook ?? createWebhookSender({ allowLoopback: config.allowLoopbackWebhooks, logger });
      const activities = createActivities({
        db: database,
        notify,
        webhook,
        publicBaseUrl: config.publicBaseUrl,
        ackTokenTtlSeconds: config.ackTokenTtlSeconds,
        operator: config.operator,
        logger,
        metrics,
      });
      const { worker, connection } = await createWorker({
        address: config.temporal.address,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        activities,
        bundle: opts.workflowBundle,
      });
      const run = worker.run();
      stops.push(async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await run.catch(() => undefined);
        await connection.close();
      });
      // every hospital's feed watcher runs (those registered before it existed, or while Temporal was away)
      stops.push(
        keepFeedWatchers({ db: database, client: temporal.client, taskQueue: config.temporal.taskQueue, logger }),
      );
    }

    if (opts.roles.includes('api')) {
      const relay = startRelay({
        db: database,
        temporal: temporal.client,
        taskQueue: config.temporal.taskQueue,
        logger,
        lingerSeconds: config.admissionLingerSeconds,
        reviewAlertSeconds: config.reviewAlertSeconds,
        maxStaySeconds: config.maxStaySeconds,
        historyLimit: config.workflowHistoryLimit,
        pollMs: config.relayPollMs,
        maxQueued: config.relayMaxQueued,
      });
      stops.push(() => relay.stop());

      // housekeeping of the shared rate limits: counters whose window and block ended an hour ago go
      const pruneRateLimits = setInterval(
        () => {
          rateLimits
            .prune(database, 60 * 60 * 1000)
            .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'cannot prune rate limits'));
        },
        10 * 60 * 1000,
      );
      pruneRateLimits.unref();
      stops.push(async () => clearInterval(pruneRateLimits));
      running.relay = relay;

      // portal sessions: connect-pg-simple over its own small pg pool (the embedded PGlite accepts it too)
      const sessionPool = new pg.Pool({ connectionString: config.databaseUrl, max: 4 });
      sessionPool.on('error', (err) => logger.warn({ err: err.message }, 'portal session pool error'));
      const PgStore = connectPgSimple(session);
      const sessionStore = new PgStore({
        pool: sessionPool,
        tableName: 'portal_sessions',
        createTableIfMissing: false,
        pruneSessionInterval: 15 * 60,
        errorLog: (...args: unknown[]) => logger.warn({ err: String(args[args.length - 1]) }, 'portal session store'),
      });
      stops.push(async () => {
        sessionStore.close();
        await sessionPool.end();
      });

      const notifyHealth = notifyHealthReporter(notify);
      const app = createApp({
        db: database,
        temporal: temporal.client,
        config,
        logger,
        ingest,
        // the same in every replica (CSRF_SECRET, else derived from ADMIN_TOKEN): a form opened on one is accepted by another
        csrfSecret: opts.csrfSecret ?? csrfSecretOf(config) ?? randomBytes(32).toString('hex'),
        portal: {
          notify,
          sessionStore,
          // the same in every replica (SESSION_SECRET, else derived from ADMIN_TOKEN), as the CSRF secret
          sessionSecret: sessionSecretOf(config) ?? randomBytes(32).toString('hex'),
        },
        onStored: relay.kick,
        mllpSendersChanged: mllpSenders.changed,
        health: async () => ({
          postgres: await ping(database),
          temporal: await temporalHealthy(temporal.connection),
          notify: notifyHealth(),
        }),
      });
      const server: Server = await new Promise((resolve, reject) => {
        const s = app.listen(config.port, config.host, () => resolve(s));
        s.once('error', reject);
      });
      stops.push(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      );
      const addr = server.address();
      running.httpPort = typeof addr === 'object' && addr ? addr.port : config.port;

      const mllpPort = opts.mllpListenPort ?? config.mllpPort;
      if (opts.mllpListenPort !== undefined || config.mllpPort !== 0) {
        const mllp: MllpServer = createMllpServer({
          logger,
          idleTimeoutMs: config.mllpIdleTimeoutSeconds * 1000,
          maxConnections: config.mllpMaxConnections,
          frameTimeoutMs: config.mllpFrameTimeoutSeconds * 1000,
          ...(mllpTls ? { tls: mllpTls } : {}),
          admit: (peer) => mllpSenders.admits(peer),
          handler: async (message, peer) => {
            const result = await ingest.ingestHl7(message, { transport: 'mllp', mllpSender: mllpSenders.sender(peer) });
            if (result.httpStatus === 200) relay.kick();
            return result.sendAck ? result.ack : null;
          },
        });
        running.mllpPort = await mllp.listen(mllpPort, config.host);
        stops.push(() => mllp.close());
      }
    }
    return running;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * The PEM files of MLLP_TLS_CERT, MLLP_TLS_KEY and MLLP_TLS_CA, read and tried once at start: a file that cannot be
 * read, or a key that does not fit its certificate, stops the process with one line naming the variable.
 */
function readMllpTls(files: NonNullable<Config['mllpTls']>): MllpTlsOptions {
  const read = (name: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(
        `Invalid configuration: ${name} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}: ${path})`,
      );
    }
  };
  const tls = {
    cert: read('MLLP_TLS_CERT', files.certFile),
    key: read('MLLP_TLS_KEY', files.keyFile),
    ca: read('MLLP_TLS_CA', files.caFile),
  };
  try {
    createSecureContext(tls);
  } catch (err) {
    throw new ConfigError(
      `Invalid configuration: MLLP_TLS_CERT, MLLP_TLS_KEY and MLLP_TLS_CA are not a usable certificate, key and CA (${(err as Error).message})`,
    );
  }
  return tls;
}
