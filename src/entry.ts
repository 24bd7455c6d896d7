/** Shared start-up for the entry points: config, logger, signals. The only place that reads process.env. */
import pino, { type Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';

/**
 * The configuration from the environment, and a logger. `defaults` fill variables the environment leaves unset and
 * `overrides` replace what it says (`npm run demo` uses both).
 */
export function boot(
  defaults: Record<string, string> = {},
  overrides: Record<string, string> = {},
): { config: Config; logger: Logger } {
  let config: Config;
  try {
    config = loadConfig({ ...defaults, ...process.env, ...overrides });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = pino({ level: config.logLevel, base: { service: 'admission-alerts' } });
  return { config, logger };
}

/** Runs `stop` once on SIGINT/SIGTERM, then exits; a second signal exits at once. */
export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error({ err: err.message }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

export function fail(logger: Logger, err: unknown): never {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else logger.fatal({ err: (err as Error).message }, 'failed to start');
  process.exit(1);
}

/** A production process (api or worker) against a real PostgreSQL and Temporal cluster. */
export async function runProduction(role: 'api' | 'worker'): Promise<void> {
  const { requireProductionSettings } = await import('./config.js');
  const { startService } = await import('./service.js');
  const { config, logger } = boot();
  try {
    requireProductionSettings(config);
    const svc = await startService({
      config: config as Parameters<typeof startService>[0]['config'],
      logger,
      roles: [role],
      registerSearchAttributes: true,
    });
    logger.info(
      {
        role,
        port: svc.httpPort,
        mllpPort: svc.mllpPort,
        metricsPort: svc.metricsPort,
        taskQueue: config.temporal.taskQueue,
      },
      'running',
    );
    onShutdown(logger, svc.stop);
  } catch (err) {
    fail(logger, err);
  }
}
