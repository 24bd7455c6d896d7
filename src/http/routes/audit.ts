/**
 * `GET /v1/audit` (operator only): the audit trail, newest first: `limit` (1–1000, default 100), `offset`, optional
 * `action=` (e.g. `access.refused`). `{items: [{id, at, actor, action, entityType, entityId, details}], limit, offset}`.
 */
import { Router } from 'express';
import * as audit from '../../db/audit.js';
import type { AppDeps } from '../app.js';
import { requireAdmin } from '../auth.js';
import { pagingQuery, parseQuery, text } from '../query.js';

export function createAuditRoutes(deps: AppDeps): Router {
  const { db } = deps;
  const r = Router();
  r.get('/audit', async (req, res) => {
    requireAdmin(req);
    const { action, limit, offset } = parseQuery(req, { action: text('action', 100).optional(), ...pagingQuery });
    const rows = await audit.list(db, { ...(action !== undefined ? { action } : {}), limit, offset });
    res.json({
      items: rows.map((e) => ({
        id: String(e.id),
        at: e.at.toISOString(),
        actor: e.actor,
        action: e.action,
        entityType: e.entityType,
        entityId: e.entityId,
        details: e.details ?? null,
      })),
      limit,
      offset,
    });
  });
  return r;
}
