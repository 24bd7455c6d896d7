/** The Temporal worker: the admission workflow bundle plus activities built from their dependencies. */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { AdmissionActivities } from '../../activities/types.js';

export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

let runtimeInstalled = false;

/** Sends the SDK's own logs through pino at warn and above (the default is a noisy console logger). */
export function installRuntimeLogger(logger: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const log = (level: 'warn' | 'error') => (message: string, meta?: Record<string, unknown>) =>
    logger[level]({ ...meta, sdk: true }, message);
  const quiet = () => undefined;
  try {
    Runtime.install({
      logger: {
        log: (level, message, meta) => (level === 'ERROR' ? log('error') : level === 'WARN' ? log('warn') : quiet)(message, meta),
        trace: quiet,
        debug: quiet,
        info: quiet,
        warn: log('warn'),
        error: log('error'),
      },
    });
  } catch {
    // a runtime is already installed in this process (tests): keep it
  }
}

/** Bundles the workflow code once (a few seconds); workers built from the bundle start fast. */
export function bundleWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } });
}

export async function createWorker(opts: {
  address: string;
  namespace: string;
  taskQueue: string;
  activities: AdmissionActivities;
  bundle?: WorkflowBundle;
}): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: opts.address });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.bundle ? { workflowBundle: opts.bundle } : { workflowsPath }),
    activities: opts.activities,
    maxConcurrentActivityTaskExecutions: 100,
  });
  return { worker, connection };
}
