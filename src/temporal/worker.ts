/** The Temporal worker: the admission workflow bundle plus activities built from their dependencies. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundle,
  type WorkflowBundleOption,
  type WorkflowBundlePath,
  type WorkerOptions,
} from '@temporalio/worker';
import type { Logger } from 'pino';
import type { AdmissionActivities } from '../../activities/types.js';

/** This module was compiled by `npm run build` (dist/src/temporal/worker.js), not run from source by tsx or vitest. */
const compiled = import.meta.url.endsWith('.js');

/** The bundle's entry: workflows/index.ts from source, dist/workflows/index.js when compiled. */
export const workflowsPath = fileURLToPath(new URL(`../../workflows/index.${compiled ? 'js' : 'ts'}`, import.meta.url));

/** Where `npm run build` writes the workflow bundle (scripts/build-assets.mjs): dist/workflow-bundle.js. */
export const prebuiltBundlePath = fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url));

/**
 * The bundle `npm run build` made, when this is the compiled worker and the build wrote one (production: the worker
 * starts without webpack). Undefined when running from source: the worker then bundles `workflowsPath` at start.
 */
export function prebuiltWorkflowBundle(): WorkflowBundlePath | undefined {
  return compiled && existsSync(prebuiltBundlePath) ? { codePath: prebuiltBundlePath } : undefined;
}

let runtimeInstalled = false;

/**
 * Installs the SDK's runtime once per process, before any worker or native connection: its own logs go through pino
 * at warn and above (the default is a noisy console logger), and with `prometheusBindAddress` its metrics
 * (`temporal_*`) are served there, for the process's `/metrics` to add (src/metrics/temporal-sdk.ts). True when this
 * call installed it; false when a runtime was already there (tests: several services in one process keep the first).
 */
export function installRuntime(logger: Logger, opts: { prometheusBindAddress?: string } = {}): boolean {
  if (runtimeInstalled) return false;
  runtimeInstalled = true;
  const log = (level: 'warn' | 'error') => (message: string, meta?: Record<string, unknown>) =>
    logger[level]({ ...meta, sdk: true }, message);
  const quiet = () => undefined;
  try {
    Runtime.install({
      logger: {
        log: (level, message, meta) =>
          (level === 'ERROR' ? log('error') : level === 'WARN' ? log('warn') : quiet)(message, meta),
        trace: quiet,
        debug: quiet,
        info: quiet,
        warn: log('warn'),
        error: log('error'),
      },
      ...(opts.prometheusBindAddress
        ? { telemetryOptions: { metrics: { prometheus: { bindAddress: opts.prometheusBindAddress } } } }
        : {}),
    });
    return true;
  } catch {
    // a runtime is already installed in this process (tests): keep it
    return false;
  }
}

/** Bundles the workflow code once (a few seconds); workers built from the bundle start fast. */
export function bundleWorkflows(path = workflowsPath): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath: path,
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    },
  });
}

/** The worker's tuning: how many workflows it keeps in memory, how many tasks it polls for and runs at once. */
export type WorkerTuning = Pick<
  WorkerOptions,
  | 'maxCachedWorkflows'
  | 'maxConcurrentWorkflowTaskExecutions'
  | 'maxConcurrentActivityTaskExecutions'
  | 'maxConcurrentLocalActivityExecutions'
  | 'workflowTaskPollerBehavior'
  | 'activityTaskPollerBehavior'
  | 'nonStickyToStickyPollRatio'
>;

export const WORKER_TUNING: WorkerTuning = {
  maxConcurrentActivityTaskExecutions: 100,
  /**
   * Workflows kept in memory between their tasks. A stay's workflow stays open for days (awaiting discharge, or
   * lingering for late events), so the cache holds mostly stays with nothing to do; only those with a task in flight
   * need to be in it. Measured with bench:stays (2,000 open stays, 2026-12-03): 300 cached left the service at
   * 633 MiB, 2,411 cached at 1,116 MiB (about 0.23 MB each), and alert latency on top of the open stays grew with
   * the number cached (p99 at 10 a second 1.66× idle with 300, 2.24× with 2,411: the workflow threads' heaps). The
   * SDK's default is derived from the heap limit (about 2,300 with Node 20's 4 GiB), so memory grew with the
   * machine, not the work. An evicted stay is replayed from its (short) history when its next event comes.
   */
  maxCachedWorkflows: 300,
};

/** Tuning on top of {@link WORKER_TUNING} for workers created from now on in this process (bench:stays A/B runs). */
let tuningOverride: WorkerTuning = {};
export function overrideWorkerTuning(tuning: WorkerTuning): void {
  tuningOverride = tuning;
}

/** What {@link createWorker} gives its workers now. */
export function workerTuning(): WorkerTuning {
  return { ...WORKER_TUNING, ...tuningOverride };
}

const workers = new Set<Worker>();

/** Workflows in the caches of this process's running workers (for bench:stays); undefined when none runs. */
export function cachedWorkflows(): number | undefined {
  let n: number | undefined;
  for (const w of workers) {
    if (w.getState() === 'RUNNING') n = (n ?? 0) + w.getStatus().numCachedWorkflows;
  }
  return n;
}

export async function createWorker(opts: {
  address: string;
  namespace: string;
  taskQueue: string;
  activities: AdmissionActivities;
  /** a bundle made beforehand (tests bundle once per run); default: the build's, else bundled from source now */
  bundle?: WorkflowBundleOption;
}): Promise<{ worker: Worker; connection: NativeConnection }> {
  const bundle = opts.bundle ?? prebuiltWorkflowBundle();
  const connection = await NativeConnection.connect({ address: opts.address });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(bundle ? { workflowBundle: bundle } : { workflowsPath }),
    activities: opts.activities,
    ...workerTuning(),
  });
  workers.add(worker);
  return { worker, connection };
}
