import { Router } from 'express';

/**
 * Something operators should see in `/health/ready` that does not make the service unready, e.g. GOV.UK Notify
 * refusing the API key (README "GOV.UK Notify templates"). Reported as a top-level field under its name.
 */
export interface HealthNote {
  status: string;
  detail?: string;
  checkedAt?: string;
}

/**
 * What /health/ready asks: does each dependency answer (`true`/`false`: readiness), plus notes that are reported
 * but never make the answer 503 (CONTRACT.md: ready means PostgreSQL and Temporal answer).
 */
export type HealthCheck = () => Promise<Record<string, boolean | HealthNote>>;

export function createHealthRoutes(check: HealthCheck): Router {
  const r = Router();
  r.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/health/ready', async (_req, res) => {
    const all = await check();
    const parts = Object.entries(all).filter((e): e is [string, boolean] => typeof e[1] === 'boolean');
    const notes = Object.entries(all).filter((e): e is [string, HealthNote] => typeof e[1] !== 'boolean');
    const down = parts.filter(([, ok]) => !ok).map(([name]) => name);
    res.status(down.length === 0 ? 200 : 503).json({
      status: down.length === 0 ? 'ok' : 'unavailable',
      checks: Object.fromEntries(parts.map(([k, ok]) => [k, ok ? 'up' : 'down'])),
      ...(down.length > 0 ? { down } : {}),
      ...Object.fromEntries(notes),
    });
  });
  return r;
}
