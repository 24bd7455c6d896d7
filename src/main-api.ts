/** Production: the API process (HTTP, MLLP and the relay); stateless, run as many as needed. */
import { runProduction } from './entry.js';

await runProduction('api');
