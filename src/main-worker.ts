/** Production: the Temporal worker process (workflows and activities); run as many as needed. */
import { runProduction } from './entry.js';

await runProduction('worker');
