/**
 * `GET /v1/reports/summary?from=&to=[&providerId=]` (CONTRACT.md "Reports"): the operator sees every provider (or one,
 * with `providerId`), a provider only its own; `Accept: text/csv` gives the same figures as CSV.
 */
import { Router } from 'express';
import { z } from 'zod';
import * as providers from '../../db/providers.js';
import { reportFacts } from '../../db/reports.js';
import { toCsv } from '../../domain/csv.js';
import { summarise, summaryRecords } from '../../domain/report.js';
import type { AppDeps } from '../app.js';
import { principal, requireProviderAccess } from '../auth.js';
import { badRequest, HttpProblem, notFound } from '../problem.js';
import { parseQuery } from '../query.js';

const DAY_MS = 24 * 3600 * 1000;
/** The default period: the 7 days up to now. */
const DEFAULT_DAYS = 7;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;
/** A real calendar date: 2026-02-30 is refused, not rolled over into March. */
const realDate = (ymd: string) => {
  const d = new Date(`${ymd}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === ymd;
};

/** `YYYY-MM-DD` (midnight UTC), or a date and time with `Z` or an offset (`2026-11-22T09:00:00Z`, `…+01:00`). */
const instant = (name: string) =>
  z.string().transform((text, ctx) => {
    const day = DATE.test(text) ? text : DATE_TIME.exec(text)?.[1];
    const d = new Date(DATE.test(text) ? `${text}T00:00:00Z` : text);
    if (day !== undefined && !Number.isNaN(d.getTime()) && realDate(day)) return d;
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `${name} must be a date (YYYY-MM-DD, midnight UTC) or a date and time with Z or an offset (2026-11-22T09:00:00Z)`,
    });
    return z.NEVER;
  });

export function createReportRoutes(deps: Pick<AppDeps, 'db'>): Router {
  const r = Router();

  r.get('/reports/summary', async (req, res) => {
    const p = principal(req);
    if (p.kind === 'hospital') throw new HttpProblem(403, 'Forbidden', 'A hospital key cannot do this');
    const q = parseQuery(req, {
      from: instant('from').optional(),
      to: instant('to').optional(),
      providerId: z.string().min(1).max(100).optional(),
    });
    const to = q.to ?? new Date();
    const from = q.from ?? new Date(to.getTime() - DEFAULT_DAYS * DAY_MS);
    if (from.getTime() >= to.getTime()) throw badRequest('from must be before to', { parameter: 'from' });
    // a provider sees its own figures; another provider's id is 404 (and audited), as everywhere
    const providerId = q.providerId ?? (p.kind === 'provider' ? p.providerId : undefined);
    let provider: { id: string; odsCode: string; name: string } | null = null;
    if (providerId !== undefined) {
      requireProviderAccess(req, providerId);
      const row = z.string().uuid().safeParse(providerId).success
        ? await providers.get(deps.db, providerId)
        : undefined;
      if (!row) throw notFound('provider');
      provider = { id: row.id, odsCode: row.odsCode, name: row.name };
    }
    const facts = await reportFacts(deps.db, { from, to, ...(provider ? { providerId: provider.id } : {}) });
    const summary = summarise({ from, to }, provider, facts);
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      res
        .type('text/csv; charset=utf-8')
        .set('Content-Disposition', 'attachment; filename="admission-alerts-summary.csv"')
        .send(toCsv(summaryRecords(summary)));
      return;
    }
    res.json(summary);
  });

  return r;
}
