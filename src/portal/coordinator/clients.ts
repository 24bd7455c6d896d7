/** The provider's clients (CONTRACT.md "Web portal": list and search), for coordinators and admins. */
import { Router } from 'express';
import * as providers from '../../db/providers.js';
import type { PortalDeps } from '../app.js';
import { providerIdOf } from '../session.js';
import { render } from '../view.js';
import { clientName, formatDate, formatNhsNumber } from './format.js';

/** Rows shown at most; a search narrows the list. */
export const CLIENTS_SHOWN = 200;

/** Does the client match every word of the search (name, NHS number, reference, date of birth as shown or stored)? */
function matches(c: providers.ClientRow, words: string[]): boolean {
  const haystack = [
    c.givenName,
    c.familyName,
    c.reference,
    c.nhsNumber,
    c.dateOfBirth,
    formatDate(c.dateOfBirth),
    c.dateOfBirth.split('-').reverse().join('/'),
  ]
    .filter((v): v is string => typeof v === 'string')
    .join(' ')
    .toLowerCase();
  return words.every((w) => haystack.includes(w));
}

export function createClientPages(deps: PortalDeps): Router {
  const r = Router();
  r.get('/clients', async (req, res) => {
    const raw = typeof req.query['q'] === 'string' ? req.query['q'] : '';
    const q = raw.trim().slice(0, 100);
    // an NHS number may be typed with spaces: "999 526 0182"
    const words = q
      .toLowerCase()
      .replace(/\b(\d{3}) (\d{3}) (\d{4})\b/g, '$1$2$3')
      .split(/\s+/)
      .filter((w) => w !== '');
    const all = await providers.listClients(deps.db, providerIdOf(req));
    const found = words.length === 0 ? all : all.filter((c) => matches(c, words));
    render(res, 'coordinator/clients.njk', {
      title: 'Clients',
      q,
      total: all.length,
      found: found.length,
      shown: CLIENTS_SHOWN,
      rows: found.slice(0, CLIENTS_SHOWN).map((c) => ({
        name: clientName(c) ?? 'Name not registered',
        dateOfBirth: formatDate(c.dateOfBirth),
        nhsNumber: formatNhsNumber(c.nhsNumber),
        reference: c.reference ?? '',
        notOurClient: c.notOurClientAt !== null,
      })),
    });
  });
  return r;
}
