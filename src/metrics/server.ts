/**
 * `GET /metrics` on METRICS_PORT (CONTRACT.md "Operators", "Metrics"): the registry in the Prometheus text format,
 * followed by the text of any other exporters of the process (the Temporal SDK's, {@link TemporalSdkMetrics}).
 * Everything is gathered when scraped; nothing runs between scrapes.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** More exposition text for the same scrape; undefined (or a failure) leaves it out of that scrape. */
export type ExtraMetrics = () => Promise<string | undefined>;

export async function startMetricsServer(opts: {
  port: number;
  host: string;
  registry: Registry;
  extra?: ExtraMetrics[];
  logger: Logger;
}): Promise<MetricsServer> {
  const { registry, logger } = opts;
  const extra = opts.extra ?? [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    void exposition().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        logger.warn({ err: (err as Error).message }, 'cannot gather metrics');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('cannot gather metrics\n');
      },
    );
  });

  async function exposition(): Promise<string> {
    const parts = await Promise.all([
      registry.metrics(),
      ...extra.map((e) =>
        e().catch((err: unknown) => {
          logger.warn({ err: (err as Error).message }, 'cannot read the Temporal SDK metrics');
          return undefined;
        }),
      ),
    ]);
    return parts
      .filter((p): p is string => p !== undefined && p !== '')
      .map((p) => (p.endsWith('\n') ? p : `${p}\n`))
      .join('');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
