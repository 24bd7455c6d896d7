/** The workflow bundle's entry (workflowsPath). */
export { admissionWorkflow } from './admission.js';
