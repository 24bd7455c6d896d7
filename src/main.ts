/**
 * `npm start`: everything a newcomer needs on one machine (src/local.ts): embedded PostgreSQL and Temporal dev server
 * when they are not configured, then migrations, worker, relay, HTTP API and MLLP listener; prints where they are.
 */
import { boot, fail, onShutdown } from './entry.js';
import { startLocal } from './local.js';

const { config, logger } = boot();

try {
  const local = await startLocal(config, logger);
  onShutdown(logger, local.stop);
  const lines = ['', 'admission-alerts is running', ...local.banner(), '  Ctrl-C stops everything.', ''];
  process.stdout.write(lines.join('\n') + '\n');
} catch (err) {
  fail(logger, err);
}
