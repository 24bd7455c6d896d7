/**
 * Rejected messages for operators, newest first, a page at a time, optionally of one hospital: what `GET
 * /v1/messages?status=rejected` lists (src/db/messages.ts `list`), and no more. Metadata and the reason only: never
 * the raw message, whose PID segment carries the patient (the API does not show it either).
 */
import { Router } from 'express';
import * as messages from '../../db/messages.js';
import type { PortalDeps } from '../app.js';
import { render } from '../view.js';

/** Messages on one page. */
export const MESSAGES_PAGE_SIZE = 50;
/** The last page that may be asked for (offset 500,000): deeper than anyone reads, cheap for PostgreSQL. */
const MAX_PAGE = 10_000;

const TRANSPORT_WORDS: Record<string, string> = { http: 'HL7 over HTTP', mllp: 'HL7 over MLLP', fhir: 'FHIR' };

export function createMessagePages(deps: PortalDeps): Router {
  const { db } = deps;
  const r = Router();

  r.get('/messages', async (req, res) => {
    const pageText = req.query['page'] ?? '1';
    const hospitalText = req.query['hospital'];
    const page = typeof pageText === 'string' && /^[1-9]\d{0,4}$/.test(pageText) ? Number(pageText) : NaN;
    const hospital = typeof hospitalText === 'string' ? hospitalText.trim() : hospitalText === undefined ? '' : null;
    if (!(page <= MAX_PAGE) || hospital === null || hospital.length > 20) {
      res.status(400);
      return render(res, 'message.njk', {
        title: 'Page not valid',
        heading: 'There is no such page of rejected messages',
        paragraphs: [`The page must be a number from 1 to ${MAX_PAGE}, and the hospital an ODS code.`],
        link: { href: '/portal/operator/messages', text: 'Go to the newest rejected messages' },
      });
    }
    const rows = await messages.list(db, {
      status: 'rejected',
      ...(hospital ? { hospitalOds: hospital } : {}),
      limit: MESSAGES_PAGE_SIZE + 1,
      offset: (page - 1) * MESSAGES_PAGE_SIZE,
    });
    const query = (p: number) =>
      `/portal/operator/messages?${new URLSearchParams({ ...(hospital ? { hospital } : {}), page: String(p) })}`;
    render(res, 'operator/messages.njk', {
      title: page > 1 ? `Rejected messages, page ${page}` : 'Rejected messages',
      page,
      hospital,
      previousUrl: page > 1 ? query(page - 1) : undefined,
      nextUrl: rows.length > MESSAGES_PAGE_SIZE ? query(page + 1) : undefined,
      messages: rows.slice(0, MESSAGES_PAGE_SIZE).map((m) => ({
        receivedAt: m.receivedAt,
        hospitalOds: m.hospitalOds,
        transport: TRANSPORT_WORDS[m.transport] ?? m.transport,
        controlId: m.messageControlId,
        answer: `${m.ackCode} (HTTP ${m.httpStatus})`,
        reason: m.errorReason ?? m.errorCode ?? 'Not recorded',
        location: m.errorLocation,
        code: m.errorCode,
      })),
    });
  });

  return r;
}
