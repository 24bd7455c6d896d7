/**
 * Care providers for operators: every provider with its number of clients, and a provider's page with its contacts
 * (names, roles and the channels each has: never an address or a webhook secret), its escalation ladder and its
 * number of clients. Read-only: providers manage these themselves (API, or their admins in the portal).
 */
import { Router } from 'express';
import { z } from 'zod';
import * as providers from '../../db/providers.js';
import { PortalNotFound, type PortalDeps } from '../app.js';
import { render } from '../view.js';
import { channelWords, contactChannels, durationWords } from './words.js';

const uuid = z.string().uuid();

export function createProviderPages(deps: PortalDeps): Router {
  const { db } = deps;
  const r = Router();

  r.get('/providers', async (_req, res) => {
    const [rows, counts] = await Promise.all([providers.list(db), providers.clientCounts(db)]);
    render(res, 'operator/providers.njk', {
      title: 'Providers',
      providers: rows.map((p) => ({ ...p, clients: counts.get(p.id) ?? 0 })),
    });
  });

  r.get('/providers/:providerId', async (req, res) => {
    const id = String(req.params['providerId']);
    if (!uuid.safeParse(id).success) throw new PortalNotFound();
    const [provider, contacts, policy, counts] = await Promise.all([
      providers.get(db, id),
      providers.listContacts(db, id),
      providers.getPolicy(db, id),
      providers.clientCounts(db, id),
    ]);
    if (!provider) throw new PortalNotFound();
    const byId = new Map(contacts.map((c) => [c.id, c]));
    render(res, 'operator/provider.njk', {
      title: provider.name,
      provider,
      clients: counts.get(id) ?? 0,
      contacts: contacts.map((c) => ({ name: c.name, role: c.role, channels: contactChannels(c) })),
      steps: (policy?.steps ?? []).map((step, i) => ({
        number: i + 1,
        // a contact deleted since the ladder was set is skipped when alerts are sent
        contacts: step.contactIds.map((cid) => {
          const c = byId.get(cid);
          return c ? `${c.name} (${c.role})` : 'a removed contact (skipped)';
        }),
        channels: channelWords(step.channels),
        wait: durationWords(step.waitSeconds),
      })),
      repeat: policy?.repeat ?? 0,
    });
  });

  return r;
}
