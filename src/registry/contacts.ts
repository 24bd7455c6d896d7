/**
 * A provider's contacts (CONTRACT.md "Registry": `POST /v1/providers/{id}/contacts`): the rules a new contact must
 * meet, the same for the API and the portal.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import * as audit from '../db/audit.js';
import type { Db } from '../db/client.js';
import * as providers from '../db/providers.js';
import type { Contact } from '../db/providers.js';
import { normaliseUkMobile } from '../notify/govuk-notify.js';
import { checkWebhookUrl } from '../notify/url-guard.js';
import { check, type FieldError } from './validation.js';

export const contactBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    role: z.string().trim().min(1).max(100),
    phone: z
      .string()
      .trim()
      .optional()
      .refine((p) => p === undefined || normaliseUkMobile(p) !== null, 'must be a UK mobile number (07… or +447…)'),
    email: z.string().trim().email('must be an email address').optional(),
    webhookUrl: z.string().trim().optional(),
  })
  .strict();

/** What `providers.addContact` stores for a new contact, less the provider. */
export type NewContact = Pick<Contact, 'name' | 'role' | 'phone' | 'email' | 'webhookUrl' | 'webhookSecret'>;

/**
 * Checks a new contact (a UK mobile, an email address, a webhook address the address guard lets through) and
 * prepares it for storing: the mobile in `+44` form, and a new webhook secret (`whsec_…`, 256 random bits) when it
 * has a webhook address, which the caller shows once.
 */
export function newContact(
  body: unknown,
  opts: { allowLoopbackWebhooks: boolean },
): { ok: true; contact: NewContact } | { ok: false; errors: FieldError[] } {
  const r = check(contactBody, body);
  if (!r.ok) return r;
  const c = r.data;
  if (c.webhookUrl !== undefined) {
    const url = checkWebhookUrl(c.webhookUrl, { allowLoopback: opts.allowLoopbackWebhooks });
    if (!url.ok) return { ok: false, errors: [{ field: 'webhookUrl', message: url.reason }] };
  }
  return {
    ok: true,
    contact: {
      name: c.name,
      role: c.role,
      phone: c.phone ? normaliseUkMobile(c.phone) : null,
      email: c.email ?? null,
      webhookUrl: c.webhookUrl ?? null,
      webhookSecret: c.webhookUrl ? `whsec_${randomBytes(32).toString('base64url')}` : null,
    },
  };
}

/**
 * Adds a contact to the provider after `newContact`'s checks and audits `contact.created` by `actor`. The webhook
 * secret is returned here only (stored, never shown again).
 */
export async function addContact(
  db: Db,
  providerId: string,
  body: unknown,
  opts: { allowLoopbackWebhooks: boolean; actor: string },
): Promise<
  { ok: true; contact: providers.ContactView; webhookSecret: string | null } | { ok: false; errors: FieldError[] }
> {
  const r = newContact(body, opts);
  if (!r.ok) return r;
  const contact = await providers.addContact(db, { providerId, ...r.contact });
  await audit.record(db, { actor: opts.actor, action: 'contact.created', entityType: 'contact', entityId: contact.id });
  return { ok: true, contact, webhookSecret: r.contact.webhookSecret };
}

/** Removes one of the provider's contacts and audits `contact.deleted`; false when it has no such contact. */
export async function removeContact(db: Db, providerId: string, contactId: string, actor: string): Promise<boolean> {
  if (!(await providers.deleteContact(db, providerId, contactId))) return false;
  await audit.record(db, { actor, action: 'contact.deleted', entityType: 'contact', entityId: contactId });
  return true;
}
