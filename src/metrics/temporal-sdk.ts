/**
 * The Temporal SDK's own worker metrics (`temporal_*`: task slots, poll and schedule-to-start latencies, sticky
 * cache, requests to the server). The SDK's runtime serves them in the Prometheus text format on an address of its
 * own (`Runtime.install({ telemetryOptions: { metrics: { prometheus } } })`, src/temporal/worker.ts); this process
 * binds that to a free loopback port and adds its text to `/metrics`, so one scrape gets both.
 */
import { freePort } from '../temporal/dev-server.js';
import type { ExtraMetrics } from './server.js';

/** A free 127.0.0.1 address for the SDK's exporter (not reachable from outside the host). */
export async function sdkMetricsAddress(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

/** Reads the SDK exporter at `address` when scraped; a second at most, else that scrape goes without it. */
export function sdkMetricsReader(address: string): ExtraMetrics {
  return async () => {
    const res = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(1_000) });
    if (!res.ok) throw new Error(`the Temporal SDK's metrics answered ${res.status}`);
    return res.text();
  };
}
