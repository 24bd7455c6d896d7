/** Production: the Temporal worker process (workflows and activities). */
import { requireProductionSettings } from './config.js';
import { boot, fail, onShutdown } from './entry.js';
import { startService, type ServiceOptions } from './service.js';

const { config, logger } = boot();
try {
  requireProductionSettings(config);
  const svc = await startService({
    config: config as ServiceOptions['config'],
    logger,
    roles: ['worker'],
    registerSearchAttributes: true,
  });
  logger.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
  onShutdown(logger, svc.stop);
} catch (err) {
  fail(logger, err);
}
