/** `/portal/admin/users`: the provider's portal users: list, add (coordinator or admin), remove. */
import { Router, type Request, type Response } from 'express';
import type { PortalDeps } from '../app.js';
import { PortalNotFound } from '../app.js';
import { portalUser, providerIdOf, redirectAfterSave } from '../session.js';
import { createUser, listUsers, providerUserInput, removeUser } from '../users.js';
import { render } from '../view.js';
import { check, type FieldError } from '../../registry/validation.js';
import { errorContext, field, portalActor, takeNotice } from './forms.js';

/** What each field's problem is called on the page (GOV.UK/NHS error message style). */
const MESSAGES: Record<string, string> = {
  name: 'Enter their name',
  email: 'Enter an email address in the correct format, like name@example.com',
  role: 'Select what they can do',
};

export const ROLES = [
  { value: 'coordinator', text: 'Coordinator', hint: 'Sees and acknowledges alerts, and sees the client list.' },
  {
    value: 'admin',
    text: 'Provider admin',
    hint: 'Also manages users, contacts, the escalation ladder and the client list.',
  },
] as const;

export function createUserPages(deps: PortalDeps): Router {
  const { db } = deps;
  const r = Router();

  async function page(
    req: Request,
    res: Response,
    form: Record<string, string | undefined> = {},
    errors: FieldError[] = [],
  ) {
    const me = portalUser(req);
    const users = await listUsers(db, providerIdOf(req));
    render(res, 'admin/users.njk', {
      title: 'Users',
      users: users.map((u) => ({
        ...u,
        roleText: ROLES.find((x) => x.value === u.role)?.text ?? u.role,
        me: u.id === me.id,
      })),
      roles: ROLES,
      form,
      notice: takeNotice(req),
      ...errorContext(errors),
    });
  }

  r.get('/users', async (req, res) => page(req, res));

  r.post('/users', async (req, res) => {
    const form = { name: field(req.body, 'name'), email: field(req.body, 'email'), role: field(req.body, 'role') };
    const parsed = check(providerUserInput, form);
    if (!parsed.ok) {
      const fields = [...new Set(parsed.errors.map((e) => e.field))].filter((f) => f in MESSAGES);
      res.status(400);
      return page(
        req,
        res,
        form,
        fields.map((f) => ({ field: f, message: MESSAGES[f]! })),
      );
    }
    const result = await createUser(
      db,
      { providerId: providerIdOf(req), ...parsed.data },
      portalActor(portalUser(req)),
    );
    if (!result.ok) {
      res.status(409);
      return page(req, res, form, [
        { field: 'email', message: 'A user with this email address already exists: use another address' },
      ]);
    }
    req.session.adminNotice = {
      heading: `${result.user.name} added`,
      lines: [`They can now sign in with ${result.user.email}.`],
    };
    await redirectAfterSave(req, res, '/portal/admin/users');
  });

  r.post('/users/:userId/remove', async (req, res) => {
    const me = portalUser(req);
    const userId = String(req.params.userId);
    if (userId === me.id) {
      res.status(409);
      return page(req, res, {}, [
        { field: 'users', message: 'You cannot remove yourself: ask another provider admin to do it' },
      ]);
    }
    const users = await listUsers(db, providerIdOf(req));
    const user = users.find((u) => u.id === userId);
    if (!user || !(await removeUser(db, providerIdOf(req), userId, portalActor(me)))) throw new PortalNotFound();
    req.session.adminNotice = { heading: `${user.name} removed`, lines: ['They can no longer sign in.'] };
    await redirectAfterSave(req, res, '/portal/admin/users');
  });

  return r;
}
