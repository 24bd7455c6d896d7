/** What the provider admin's pages share: form errors as the NHS error summary shows them, one-time notices, the actor. */
import type { Request } from 'express';
import type { FieldError } from '../../registry/validation.js';
import type { PortalUser } from '../session.js';

/** A success notice shown once, on the next page (after a redirect). */
export interface AdminNotice {
  heading: string;
  /** plain sentences, each its own paragraph */
  lines?: string[];
}

declare module 'express-session' {
  interface SessionData {
    /** the admin pages' notice for the next page */
    adminNotice?: AdminNotice;
    /** a new webhook contact's secret, shown once on the contacts page then forgotten */
    newWebhookSecret?: { contactId: string; name: string; secret: string };
    /** an uploaded client list between its preview and its saving (nothing is saved before) */
    rosterUpload?: { id: string; fileName: string; text: string };
  }
}

/** The audit trail's actor for a change made in the portal: the signed-in user. */
export function portalActor(user: Pick<PortalUser, 'email'>): string {
  return `user:${user.email}`;
}

/** The template context for form errors: the summary's list (each linking to its input) and each input's message. */
export function errorContext(errors: readonly FieldError[]): {
  hasError: boolean;
  errors: { text: string; href: string }[];
  fieldErrors: Record<string, string>;
} {
  const fieldErrors: Record<string, string> = {};
  for (const e of errors) fieldErrors[e.field] ??= e.message;
  return {
    hasError: errors.length > 0,
    errors: errors.map((e) => ({ text: e.message, href: `#${e.field}` })),
    fieldErrors,
  };
}

/** Takes the one-time notice out of the session. */
export function takeNotice(req: Request): AdminNotice | undefined {
  const notice = req.session.adminNotice;
  if (notice) delete req.session.adminNotice;
  return notice;
}

/** A form field's text, trimmed; undefined when it is empty or not there. */
export function field(body: unknown, name: string): string | undefined {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  const s = typeof v === 'string' ? v.trim() : undefined;
  return s === '' ? undefined : s;
}
