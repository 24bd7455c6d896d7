/** The workflow bundle's entry (workflowsPath). */
export { admissionWorkflow } from './admission.js';
export { feedWatchWorkflow } from './feed-watch.js';
