/**
 * The review queue for operators (CONTRACT.md "Unmatched, never silent"): `/portal/operator/review` lists the
 * unmatched stays nobody has resolved, oldest first, as `GET /v1/review` does; an item's page shows the providers
 * with a client of the stay's NHS number and resolves it (match to a client, or dismiss with a note) through the
 * same function as `POST /v1/admissions/{id}/resolve` (src/review/resolve.ts), audited with the signed-in operator.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import * as admissions from '../../db/admissions.js';
import * as providers from '../../db/providers.js';
import { NO_SUCH_CLIENT, NOT_WOKEN, resolution, resolveReview, type Resolution } from '../../review/resolve.js';
import { staySettingsOf } from '../../temporal/stays.js';
import { PortalNotFound, type PortalDeps } from '../app.js';
import { portalUser } from '../session.js';
import { render } from '../view.js';
import { operatorActor } from './actor.js';
import { sentence, temporalWorkflowUrl } from './words.js';

const uuid = z.string().uuid();

/** What each form field's problem says to a person (the API's zod messages are for programs). */
const FIELD_MESSAGES = {
  providerId: 'Select the provider whose client this is',
  nhsNumber: 'Enter a valid NHS number: 10 digits, like 943 476 5919',
  noNhsNumber: 'This stay has no valid NHS number to match on: enter the number the hospital confirmed',
  note: 'Enter why you are dismissing this item (up to 2000 characters)',
  matchNote: 'The note must be 2000 characters or fewer',
} as const;

/** The fields of the item page's forms, as sent (shown again with a problem). */
interface Form {
  providerId?: string | undefined;
  matchNote?: string | undefined;
  otherProviderId?: string | undefined;
  nhsNumber?: string | undefined;
  note?: string | undefined;
}

const field = (body: unknown, name: string): string | undefined => {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : undefined;
};

export function createReviewPages(deps: PortalDeps): Router {
  const { db } = deps;
  const r = Router();
  const stays = staySettingsOf(deps.config);
  const stayUrl = (workflowId: string) =>
    temporalWorkflowUrl(deps.config.temporal?.uiUrl, deps.config.temporal?.namespace ?? 'default', workflowId);

  r.get('/review', async (req, res) => {
    const rows = await admissions.reviewQueue(db);
    const done = req.query['resolved'];
    render(res, 'operator/review-list.njk', {
      title: 'Review queue',
      resolved: done === 'matched' || done === 'dismissed' ? done : undefined,
      items: rows.map((row) => ({
        id: row.id,
        hospital: row.hospitalName ?? row.hospitalOds,
        hospitalOds: row.hospitalOds,
        visitNumber: row.visitNumber,
        since: row.since,
        reason: sentence(row.statusReason),
        temporalUrl: stayUrl(row.workflowId),
      })),
    });
  });

  /** The review item of the request's `:admissionId`; a page that is not found when there is no such stay. */
  async function itemOf(req: Request) {
    const id = String(req.params['admissionId']);
    const item = uuid.safeParse(id).success ? await admissions.reviewItem(db, id) : undefined;
    if (!item) throw new PortalNotFound();
    return item;
  }

  type Item = Awaited<ReturnType<typeof itemOf>>;

  /** 409: resolved already (by another operator, or this form sent twice); nothing was changed. */
  function alreadyResolved(res: Response) {
    res.status(409);
    render(res, 'message.njk', {
      title: 'Already resolved',
      heading: 'This item is no longer waiting for review',
      paragraphs: ['Another operator may have resolved it, or the form was sent twice. Nothing has been changed.'],
      link: { href: '/portal/operator/review', text: 'Go to the review queue' },
    });
  }

  /** The item and its forms; `form` and `errors` when a submission is shown again (status already set). */
  async function showItem(res: Response, item: Item, form: Form = {}, errors: Record<string, string> = {}) {
    if (!item.waiting) return alreadyResolved(res);
    const [candidates, everyProvider] = await Promise.all([
      item.nhsNumber ? providers.clientsWithNhsNumber(db, item.nhsNumber) : Promise.resolve([]),
      providers.list(db),
    ]);
    const names = new Map(everyProvider.map((p) => [p.id, p.name]));
    const clients = await Promise.all(candidates.map((c) => providers.getClient(db, c.clientId)));
    const errorList = Object.entries(errors).map(([name, text]) => ({ text, href: `#${name}` }));
    render(res, 'operator/review-item.njk', {
      title: `Review visit ${item.visitNumber}`,
      hasError: errorList.length > 0,
      errors: errorList,
      fieldErrors: errors,
      form,
      item: {
        id: item.id,
        hospital: item.hospitalName ?? item.hospitalOds,
        hospitalOds: item.hospitalOds,
        visitNumber: item.visitNumber,
        since: item.since,
        reason: sentence(item.statusReason),
        workflowId: item.workflowId,
        temporalUrl: stayUrl(item.workflowId),
      },
      candidates: candidates.map((c, i) => ({
        providerId: c.providerId,
        providerOds: c.providerOds,
        providerName: names.get(c.providerId) ?? c.providerOds,
        reference: clients[i]?.reference ?? null,
      })),
      providers: everyProvider.map((p) => ({ id: p.id, name: p.name, odsCode: p.odsCode })),
    });
  }

  r.get('/review/:admissionId', async (req, res) => showItem(res, await itemOf(req)));

  /** Resolves through the API's function; a refusal shows the item again with the problem beside its field. */
  async function resolve(req: Request, res: Response, item: Item, r: Resolution, form: Form) {
    const out = await resolveReview({ ...deps, stays }, item.id, r, operatorActor(portalUser(req)));
    switch (out.kind) {
      case 'no-such-admission':
        throw new PortalNotFound();
      case 'no-such-client':
        res.status(422);
        return showItem(res, item, form, {
          [form.nhsNumber !== undefined ? 'nhsNumber' : 'providerId']: NO_SUCH_CLIENT,
        });
      case 'not-woken':
        // the match is recorded: the same form again (allowed for a matched item) wakes the stay
        res.status(503);
        return render(res, 'operator/review-retry.njk', {
          title: 'Provider not alerted yet',
          item: { id: item.id, visitNumber: item.visitNumber },
          detail: NOT_WOKEN,
          fields: Object.entries(form).filter((e): e is [string, string] => typeof e[1] === 'string'),
        });
      case 'matched':
      case 'dismissed':
        return res.redirect(303, `/portal/operator/review?resolved=${out.kind}`);
    }
  }

  /**
   * Match: a candidate (`providerId`; the stay's own NHS number, which the page never shows) or any provider with an
   * NHS number the operator enters (`otherProviderId`, `nhsNumber`: e.g. the corrected one from the hospital). An
   * item already matched may be matched again, as the API allows: that is how a match whose stay could not be woken
   * is retried.
   */
  r.post('/review/:admissionId/match', async (req, res) => {
    const item = await itemOf(req);
    if (!item.waiting && item.reviewResolution !== 'matched') return alreadyResolved(res);
    // the second form names another provider and an NHS number; the first, a candidate (the stay's NHS number)
    const typed = field(req.body, 'nhsNumber');
    const form: Form =
      typed !== undefined
        ? { otherProviderId: field(req.body, 'otherProviderId'), nhsNumber: typed }
        : { providerId: field(req.body, 'providerId'), matchNote: field(req.body, 'matchNote') };
    const note = form.matchNote?.trim();
    const parsed = resolution.safeParse({
      action: 'match',
      providerId: (typed !== undefined ? form.otherProviderId : form.providerId) ?? '',
      nhsNumber: typed ?? item.nhsNumber ?? '',
      ...(note ? { note } : {}),
    });
    if (!parsed.success) {
      const errors: Record<string, string> = {};
      for (const issue of parsed.error.issues) {
        const name = issue.path[0];
        if (name === 'note') errors['matchNote'] ??= FIELD_MESSAGES.matchNote;
        else if (name === 'nhsNumber')
          errors['nhsNumber'] ??= typed === undefined ? FIELD_MESSAGES.noNhsNumber : FIELD_MESSAGES.nhsNumber;
        else if (typed !== undefined) errors['otherProviderId'] ??= FIELD_MESSAGES.providerId;
        else errors['providerId'] ??= FIELD_MESSAGES.providerId;
      }
      res.status(400);
      return showItem(res, item, form, errors);
    }
    return resolve(req, res, item, parsed.data, form);
  });

  r.post('/review/:admissionId/dismiss', async (req, res) => {
    const item = await itemOf(req);
    if (!item.waiting) return alreadyResolved(res);
    const form: Form = { note: field(req.body, 'note') };
    const parsed = resolution.safeParse({ action: 'dismiss', note: form.note ?? '' });
    if (!parsed.success) {
      res.status(400);
      return showItem(res, item, form, { note: FIELD_MESSAGES.note });
    }
    return resolve(req, res, item, parsed.data, form);
  });

  return r;
}
