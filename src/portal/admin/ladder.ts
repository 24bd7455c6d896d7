/**
 * `/portal/admin/ladder`: the escalation ladder editor. One form holds the whole ladder; "Add a step", "Move up",
 * "Move down" and "Remove step" send it back with the change made (nothing saved); "Save the ladder" sets the
 * policy through the same rules as `PUT /v1/providers/{id}/escalation-policy` (src/registry/escalation-policy.ts).
 */
import { Router, type Request, type Response } from 'express';
import * as providers from '../../db/providers.js';
import { MAX_STEPS, savePolicy } from '../../registry/escalation-policy.js';
import type { PortalDeps } from '../app.js';
import { portalUser, providerIdOf, redirectAfterSave } from '../session.js';
import { render } from '../view.js';
import { errorContext, portalActor, takeNotice } from './forms.js';
import {
  applyLadderAction,
  CHANNELS,
  draftFromPolicy,
  draftToPolicy,
  formErrorsOf,
  minutesText,
  readLadderForm,
  type FormError,
  type LadderDraft,
} from './ladder-form.js';

/** How a contact can be reached, for the hint under its name. */
function reachText(c: providers.ContactView): string {
  const ways = [c.phone ? 'text message' : '', c.email ? 'email' : '', c.webhookUrl ? 'webhook' : ''].filter(Boolean);
  return ways.length > 0 ? `Can get: ${ways.join(', ')}` : 'No way to reach them';
}

/**
 * The control to focus after a change, so a keyboard user carries on where they were: the moved step's same button
 * (or its other one at the top or bottom), the new step's first contact, the first contact of the step that took a
 * removed one's place, or "Add a step" when none is left.
 */
function focusAfter(
  kind: 'add' | 'up' | 'down' | 'remove',
  next: { draft: LadderDraft; focus: number | undefined },
): string {
  if (next.focus === undefined) return 'add-step';
  const n = next.focus + 1;
  const count = next.draft.steps.length;
  if (kind === 'up') return n > 1 ? `step-${n}-up` : count > 1 ? `step-${n}-down` : `step-${n}-contacts`;
  if (kind === 'down') return n < count ? `step-${n}-down` : count > 1 ? `step-${n}-up` : `step-${n}-contacts`;
  return `step-${n}-contacts`;
}

export function createLadderPages(deps: PortalDeps): Router {
  const { db } = deps;
  const r = Router();

  async function page(
    req: Request,
    res: Response,
    draft: LadderDraft | undefined,
    opts: { errors?: FormError[]; unsaved?: boolean; focusId?: string } = {},
  ) {
    const providerId = providerIdOf(req);
    const [contacts, policy] = await Promise.all([
      providers.listContacts(db, providerId),
      draft ? Promise.resolve(undefined) : providers.getPolicy(db, providerId),
    ]);
    const shown = draft ?? draftFromPolicy(policy);
    render(res, 'admin/ladder.njk', {
      title: 'Escalation ladder',
      steps: shown.steps.map((s, i) => ({
        ...s,
        n: i + 1,
        storedMinutes: s.waitSeconds !== undefined ? minutesText(s.waitSeconds) : undefined,
      })),
      repeat: shown.repeat,
      contacts: contacts.map((c) => ({ id: c.id, name: c.name, role: c.role, hint: reachText(c) })),
      channels: CHANNELS,
      maxSteps: MAX_STEPS,
      notice: takeNotice(req),
      unsaved: opts.unsaved ?? false,
      neverSaved: !draft && !policy,
      focusId: opts.focusId,
      ...errorContext(opts.errors ?? []),
    });
  }

  r.get('/ladder', async (req, res) => page(req, res, undefined));

  r.post('/ladder', async (req, res) => {
    const { draft, action } = readLadderForm(req.body as Record<string, unknown>);
    if (action.kind !== 'save') {
      const next = applyLadderAction(draft, action);
      return page(req, res, next.draft, { unsaved: true, focusId: focusAfter(action.kind, next) });
    }
    const providerId = providerIdOf(req);
    const form = draftToPolicy(draft, await providers.listContacts(db, providerId));
    if (!form.ok) {
      res.status(400);
      return page(req, res, draft, { errors: form.errors, unsaved: true });
    }
    const saved = await savePolicy(db, providerId, form.policy, portalActor(portalUser(req)));
    if (!saved.ok) {
      res.status(400);
      return page(req, res, draft, { errors: formErrorsOf(saved.errors), unsaved: true });
    }
    req.session.adminNotice = {
      heading: 'Escalation ladder saved',
      lines: ['Alerts raised from now on follow this ladder.'],
    };
    await redirectAfterSave(req, res, '/portal/admin/ladder');
  });

  return r;
}
