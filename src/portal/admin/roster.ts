/**
 * `/portal/admin/roster`: the client list. Upload a CSV (the API import's format, or a header in plain words, dates
 * `dd/mm/yyyy` or `yyyy-mm-dd`: src/registry/client-csv.ts) → a preview of what would be saved and every line that
 * would not, with its reason → "Save" saves the accepted rows. Nothing is saved before that: the file is kept in
 * the session in between. Download gives the list as a CSV that imports back unchanged.
 */
import { randomUUID } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import * as audit from '../../db/audit.js';
import * as providers from '../../db/providers.js';
import { clientsToCsv } from '../../registry/client-csv.js';
import { checkClientList, importClientList, type ClientListCheck } from '../../registry/clients.js';
import type { FieldError } from '../../registry/validation.js';
import type { PortalDeps } from '../app.js';
import { portalUser, providerIdOf, redirectAfterSave } from '../session.js';
import { render } from '../view.js';
import { errorContext, portalActor, takeNotice } from './forms.js';
import { decodeText, uploadedFile } from './upload.js';

/** The largest file taken (about 20,000 clients). */
export const MAX_UPLOAD_BYTES = 2 * 1024 * 1024;
/** How many accepted rows the preview lists (all are counted, and all are saved). */
export const PREVIEW_ROWS = 200;

const LONG_DATE = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'long', year: 'numeric' });

/** `1941-03-12` as "12 March 1941", so a date read the wrong way round is easy to see. */
function longDate(iso: string): string {
  return LONG_DATE.format(new Date(`${iso}T00:00:00Z`));
}

/** An NHS number as people read it: 999 526 0182. */
function spacedNhsNumber(n: string): string {
  return `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
}

export function createRosterPages(deps: PortalDeps): Router {
  const { db } = deps;
  const r = Router();

  async function page(req: Request, res: Response, errors: FieldError[] = []) {
    const clients = await providers.listClients(db, providerIdOf(req));
    render(res, 'admin/roster.njk', {
      title: 'Client list',
      count: clients.length,
      notice: takeNotice(req),
      maxMb: MAX_UPLOAD_BYTES / 1024 / 1024,
      ...errorContext(errors),
    });
  }

  async function preview(req: Request, res: Response, upload: { id: string; fileName: string }, list: ClientListCheck) {
    const existing = new Set((await providers.listClients(db, providerIdOf(req))).map((c) => c.nhsNumber));
    const updated = list.accepted.filter((a) => existing.has(a.nhsNumber)).length;
    render(res, 'admin/roster-preview.njk', {
      title: 'Check the client list',
      upload,
      created: list.accepted.length - updated,
      updated,
      accepted: list.accepted.slice(0, PREVIEW_ROWS).map((a) => ({
        line: a.line,
        nhsNumber: spacedNhsNumber(a.nhsNumber),
        name: [a.details.givenName, a.details.familyName].filter(Boolean).join(' '),
        dateOfBirth: longDate(a.details.dateOfBirth),
        reference: a.details.reference ?? '',
        existing: existing.has(a.nhsNumber),
      })),
      acceptedCount: list.accepted.length,
      previewRows: PREVIEW_ROWS,
      rejected: list.rejected,
    });
  }

  r.get('/roster', async (req, res) => page(req, res));

  // the form is multipart (a file), so its CSRF token comes in the query string (src/portal/session.ts)
  r.post(
    '/roster/preview',
    express.raw({ type: 'multipart/form-data', limit: MAX_UPLOAD_BYTES + 64 * 1024 }),
    async (req, res) => {
      const file = Buffer.isBuffer(req.body) ? uploadedFile(req.body, req.get('content-type'), 'file') : undefined;
      if (!file || file.content.length === 0) {
        res.status(400);
        return page(req, res, [{ field: 'file', message: 'Select a CSV file with your client list' }]);
      }
      if (file.content.length > MAX_UPLOAD_BYTES) {
        res.status(413);
        return page(req, res, [{ field: 'file', message: 'The selected file must be smaller than 2 MB' }]);
      }
      const text = decodeText(file.content);
      const list = checkClientList(text);
      if ('error' in list) {
        res.status(400);
        return page(req, res, [
          {
            field: 'file',
            message: `The file's first line must name its columns, including NHS number and date of birth (${list.error})`,
          },
        ]);
      }
      const upload = { id: randomUUID(), fileName: file.fileName.slice(0, 200) };
      req.session.rosterUpload = { ...upload, text };
      return preview(req, res, upload, list);
    },
  );

  r.post('/roster/save', async (req, res) => {
    const upload = req.session.rosterUpload;
    const id = (req.body as Record<string, unknown> | undefined)?.['upload'];
    if (!upload || upload.id !== id) {
      res.status(409);
      return page(req, res, [
        { field: 'file', message: 'That file is no longer waiting to be saved: upload it again' },
      ]);
    }
    delete req.session.rosterUpload;
    const list = checkClientList(upload.text);
    if ('error' in list) throw new Error('a previewed client list no longer reads'); // cannot happen: same text, same rules
    const { created, updated } = await importClientList(db, providerIdOf(req), list, portalActor(portalUser(req)));
    req.session.adminNotice = {
      heading: 'Client list saved',
      lines: [
        `${created} new ${created === 1 ? 'client' : 'clients'} added, ${updated} updated.`,
        ...(list.rejected.length > 0
          ? [`${list.rejected.length} ${list.rejected.length === 1 ? 'line was' : 'lines were'} not saved.`]
          : []),
      ],
    };
    await redirectAfterSave(req, res, '/portal/admin/roster');
  });

  r.get('/roster/download', async (req, res) => {
    const providerId = providerIdOf(req);
    const [provider, clients] = await Promise.all([
      providers.get(db, providerId),
      providers.listClients(db, providerId),
    ]);
    await audit.record(db, {
      actor: portalActor(portalUser(req)),
      action: 'clients.downloaded',
      entityType: 'provider',
      entityId: providerId,
      details: { clients: clients.length },
    });
    const day = new Date().toISOString().slice(0, 10);
    res
      .status(200)
      .set('Cache-Control', 'no-store')
      .set('Content-Disposition', `attachment; filename="clients-${provider?.odsCode ?? 'provider'}-${day}.csv"`)
      .type('text/csv; charset=utf-8')
      // a byte order mark, so spreadsheets read the file as UTF-8 (the import skips it)
      .send(`\uFEFF${clientsToCsv(clients)}`);
  });

  return r;
}
