/** Production: the API process (HTTP, MLLP and the relay) against a real PostgreSQL and Temporal cluster. */
import { requireProductionSettings } from './config.js';
import { boot, fail, onShutdown } from './entry.js';
import { startService, type ServiceOptions } from './service.js';

const { config, logger } = boot();
try {
  requireProductionSettings(config);
  const svc = await startService({
    config: config as ServiceOptions['config'],
    logger,
    roles: ['api'],
    registerSearchAttributes: true,
  });
  logger.info({ port: svc.httpPort, mllpPort: svc.mllpPort }, 'api listening');
  onShutdown(logger, svc.stop);
} catch (err) {
  fail(logger, err);
}
