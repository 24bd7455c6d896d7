import { Router } from 'express';

/** What /health/ready asks: does each dependency answer? */
export type HealthCheck = () => Promise<Record<string, boolean>>;

export function createHealthRoutes(check: HealthCheck): Router {
  const r = Router();
  r.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/health/ready', async (_req, res) => {
    const parts = await check();
    const down = Object.entries(parts)
      .filter(([, ok]) => !ok)
      .map(([name]) => name);
    res.status(down.length === 0 ? 200 : 503).json({
      status: down.length === 0 ? 'ok' : 'unavailable',
      checks: Object.fromEntries(Object.entries(parts).map(([k, ok]) => [k, ok ? 'up' : 'down'])),
      ...(down.length > 0 ? { down } : {}),
    });
  });
  return r;
}
