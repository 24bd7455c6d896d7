/**
 * The process under benchmark: the production API role (HTTP, MLLP and the relay) started exactly as
 * `src/main-api.ts` starts it, plus one thing for the benchmark: the parent can pause the relay (IPC message
 * `relay:pause`) and start it again (`relay:resume`), so that the ingest path can be measured alone and the relay
 * measured separately; and it reports where its time went (`stats:reset`, `stats:get`: event-loop delay and
 * garbage-collection pauses). Reports `{ ready, httpPort, mllpPort }` to the parent once listening.
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { boot } from '../src/entry.js';
import { startRelay, type Relay } from '../src/ingest/relay.js';
import { startService, type ServiceOptions } from '../src/service.js';

const { config, logger } = boot();
const svc = await startService({
  config: config as ServiceOptions['config'],
  logger,
  roles: ['api'],
  registerSearchAttributes: true,
});
let relay: Relay | undefined = svc.relay;

const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
let gcPauses: number[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push(e.duration);
}).observe({ entryTypes: ['gc'] });

function stats() {
  const sorted = [...gcPauses].sort((a, b) => a - b);
  return {
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    gcCount: sorted.length,
    gcTotalMs: sorted.reduce((a, b) => a + b, 0),
    gcMaxMs: sorted[sorted.length - 1] ?? 0,
  };
}

process.on('message', (m: unknown) => {
  void (async () => {
    if (m === 'stats:reset') {
      loopDelay.reset();
      gcPauses = [];
    } else if (m === 'stats:get') {
      process.send?.({ stats: stats() });
    } else if (m === 'relay:pause' && relay) {
      await relay.stop();
      relay = undefined;
    } else if (m === 'relay:resume' && !relay) {
      relay = startRelay({
        db: svc.database,
        temporal: svc.temporal.client,
        taskQueue: config.temporal.taskQueue,
        logger,
        lingerSeconds: config.admissionLingerSeconds,
        pollMs: 100,
      });
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
process.send?.({ ready: true, httpPort: svc.httpPort, mllpPort: svc.mllpPort });
