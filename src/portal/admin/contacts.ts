/**
 * `/portal/admin/contacts`: the people (and systems) alerts are sent to: list, add, remove, through the same rules as
 * `POST /v1/providers/{id}/contacts` (src/registry/contacts.ts). A webhook contact's secret is shown once.
 */
import { Router, type Request, type Response } from 'express';
import * as providers from '../../db/providers.js';
import type { EscalationPolicy } from '../../domain/escalation.js';
import { addContact, removeContact } from '../../registry/contacts.js';
import type { FieldError } from '../../registry/validation.js';
import type { PortalDeps } from '../app.js';
import { PortalNotFound } from '../app.js';
import { portalUser, providerIdOf, redirectAfterSave } from '../session.js';
import { render } from '../view.js';
import { errorContext, field, portalActor, takeNotice } from './forms.js';

const FIELDS = ['name', 'role', 'phone', 'email', 'webhookUrl'] as const;

/** Each field's problem in words for the page; the address guard's own reason is added for a webhook address. */
function messageFor(e: FieldError): FieldError {
  switch (e.field) {
    case 'name':
      return { field: 'name', message: 'Enter their name' };
    case 'role':
      return { field: 'role', message: 'Enter their role, like Care coordinator' };
    case 'phone':
      return { field: 'phone', message: 'Enter a UK mobile number, like 07700 900 982' };
    case 'email':
      return { field: 'email', message: 'Enter an email address in the correct format, like name@example.com' };
    case 'webhookUrl':
      return { field: 'webhookUrl', message: `Enter a webhook address that can be used: ${e.message}` };
    default:
      return { field: 'name', message: e.message };
  }
}

/** Which steps of the ladder (numbered from 1) name this contact. */
function stepsNaming(policy: EscalationPolicy | undefined, contactId: string): number[] {
  return (policy?.steps ?? []).flatMap((s, i) => (s.contactIds.includes(contactId) ? [i + 1] : []));
}

export function createContactPages(deps: PortalDeps): Router {
  const { db } = deps;
  const r = Router();

  async function page(
    req: Request,
    res: Response,
    form: Record<string, string | undefined> = {},
    errors: FieldError[] = [],
  ) {
    const providerId = providerIdOf(req);
    const [contacts, policy] = await Promise.all([
      providers.listContacts(db, providerId),
      providers.getPolicy(db, providerId),
    ]);
    const secret = req.session.newWebhookSecret;
    if (secret) delete req.session.newWebhookSecret;
    render(res, 'admin/contacts.njk', {
      title: 'Contacts',
      contacts: contacts.map((c) => ({ ...c, steps: stepsNaming(policy, c.id) })),
      form,
      notice: takeNotice(req),
      secret,
      ...errorContext(errors),
    });
  }

  r.get('/contacts', async (req, res) => page(req, res));

  r.post('/contacts', async (req, res) => {
    const form = Object.fromEntries(FIELDS.map((f) => [f, field(req.body, f)]));
    const body = Object.fromEntries(Object.entries(form).filter(([, v]) => v !== undefined));
    const errors: FieldError[] = [];
    if (!form['phone'] && !form['email'] && !form['webhookUrl']) {
      errors.push({ field: 'phone', message: 'Enter a mobile number, an email address or a webhook address' });
    }
    const result = await (errors.length > 0
      ? Promise.resolve(undefined)
      : addContact(db, providerIdOf(req), body, {
          allowLoopbackWebhooks: deps.config.allowLoopbackWebhooks,
          actor: portalActor(portalUser(req)),
        }));
    if (!result || !result.ok) {
      res.status(400);
      return page(req, res, form, result ? result.errors.map(messageFor) : errors);
    }
    req.session.adminNotice = { heading: `${result.contact.name} added` };
    if (result.webhookSecret) {
      req.session.newWebhookSecret = {
        contactId: result.contact.id,
        name: result.contact.name,
        secret: result.webhookSecret,
      };
    }
    await redirectAfterSave(req, res, '/portal/admin/contacts');
  });

  r.post('/contacts/:contactId/remove', async (req, res) => {
    const providerId = providerIdOf(req);
    const contactId = String(req.params.contactId);
    const contacts = await providers.listContacts(db, providerId);
    const contact = contacts.find((c) => c.id === contactId);
    if (!contact) throw new PortalNotFound();
    // a contact still on the ladder would make its step reach fewer people, or nobody: change the ladder first
    const steps = stepsNaming(await providers.getPolicy(db, providerId), contactId);
    if (steps.length > 0) {
      res.status(409);
      return page(req, res, {}, [
        {
          field: 'contacts',
          message: `${contact.name} is in step ${steps.join(', ')} of the escalation ladder: take them off the ladder before removing them`,
        },
      ]);
    }
    if (!(await removeContact(db, providerId, contactId, portalActor(portalUser(req))))) throw new PortalNotFound();
    req.session.adminNotice = { heading: `${contact.name} removed` };
    await redirectAfterSave(req, res, '/portal/admin/contacts');
  });

  return r;
}
