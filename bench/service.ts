/**
 * The process under benchmark: the roles in BENCH_ROLES (default `api`: HTTP, MLLP and the relay, started exactly as
 * `src/main-api.ts` starts it; `api,worker`: everything, as `npm start` runs it), plus one thing for the benchmark: the parent can pause the relay (IPC message
 * `relay:pause`) and start it again (`relay:resume`), so that the ingest path can be measured alone and the relay
 * measured separately; and it reports where its time and memory went (`stats:reset`, `stats:get`: event-loop delay,
 * garbage-collection pauses, RSS, heap, workflows in the worker's cache; `gc` collects garbage first when node runs
 * with --expose-gc). Reports `{ ready, httpPort, mllpPort }` to the parent once listening.
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { boot } from '../src/entry.js';
import { startRelay, type Relay } from '../src/ingest/relay.js';
import { startService, type Role, type ServiceOptions } from '../src/service.js';
import { cachedWorkflows, overrideWorkerTuning } from '../src/temporal/worker.js';

const { config, logger } = boot();
// A/B runs of levers: BENCH_WORKER_TUNING (JSON, WorkerTuning) and BENCH_RELAY_OPTIONS (JSON: batchSize,
// concurrency, coalesceMs, maxQueued) on top of what the service uses
const json = (name: string) => (process.env[name] ? (JSON.parse(process.env[name]) as Record<string, unknown>) : {});
overrideWorkerTuning(json('BENCH_WORKER_TUNING'));
const relayOptions = json('BENCH_RELAY_OPTIONS');
const svc = await startService({
  config: config as ServiceOptions['config'],
  logger,
  roles: (process.env.BENCH_ROLES ?? 'api').split(',') as Role[],
  registerSearchAttributes: true,
});
const startBenchRelay = () =>
  startRelay({
    db: svc.database,
    temporal: svc.temporal.client,
    taskQueue: config.temporal.taskQueue,
    logger,
    lingerSeconds: config.admissionLingerSeconds,
    reviewAlertSeconds: config.reviewAlertSeconds,
    maxStaySeconds: config.maxStaySeconds,
    historyLimit: config.workflowHistoryLimit,
    pollMs: 100,
    maxQueued: config.relayMaxQueued,
    ...relayOptions,
  });
let relay: Relay | undefined = svc.relay;
if (relay && Object.keys(relayOptions).length > 0) {
  await relay.stop();
  relay = startBenchRelay();
}

const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
let gcPauses: number[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push(e.duration);
}).observe({ entryTypes: ['gc'] });

const MiB = 2 ** 20;

function stats() {
  const mem = process.memoryUsage();
  const sorted = [...gcPauses].sort((a, b) => a - b);
  return {
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    gcCount: sorted.length,
    gcTotalMs: sorted.reduce((a, b) => a + b, 0),
    gcMaxMs: sorted[sorted.length - 1] ?? 0,
    rssMiB: mem.rss / MiB,
    heapUsedMiB: mem.heapUsed / MiB,
    heapTotalMiB: mem.heapTotal / MiB,
    externalMiB: mem.external / MiB,
    cachedWorkflows: cachedWorkflows(),
  };
}

process.on('message', (m: unknown) => {
  void (async () => {
    if (m === 'stats:reset') {
      loopDelay.reset();
      gcPauses = [];
    } else if (m === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
    } else if (m === 'stats:get') {
      process.send?.({ stats: stats() });
    } else if (m === 'relay:pause' && relay) {
      await relay.stop();
      relay = undefined;
    } else if (m === 'relay:resume' && !relay) {
      relay = startBenchRelay();
    }
    process.send?.({ done: m });
  })();
});

const stop = async () => {
  await relay?.stop();
  await svc.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// the benchmark died: do not outlive it
process.on('disconnect', () => void stop());
process.send?.({ ready: true, httpPort: svc.httpPort, mllpPort: svc.mllpPort });
