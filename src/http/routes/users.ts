/**
 * Portal users through the API (CONTRACT.md "Web portal"): a provider's coordinators and admins
 * (`/v1/providers/{id}/users`, the provider's key or the operator) and operators (`/v1/operators`, operator only).
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import * as providers from '../../db/providers.js';
import { createUser, listUsers, operatorInput, providerUserInput, removeUser, userJson } from '../../portal/users.js';
import type { AppDeps } from '../app.js';
import { actorOf, requireAdmin, requireProviderAccess } from '../auth.js';
import { HttpProblem, notFound } from '../problem.js';
import { parseBody } from './registry.js';

const uuid = z.string().uuid();

const emailInUse = (email: string) =>
  new HttpProblem(409, 'Conflict', `A user with email address ${email} already exists`);

export function createUserRoutes(deps: Pick<AppDeps, 'db'>): Router {
  const { db } = deps;
  const r = Router();

  /** The provider of `/providers/:id/...`: the operator or the provider itself, else 404 (audited); 404 if none. */
  async function provider(req: Request): Promise<string> {
    const id = String(req.params.id);
    requireProviderAccess(req, id);
    if (!uuid.safeParse(id).success || !(await providers.exists(db, id))) throw notFound('provider');
    return id;
  }

  r.post('/providers/:id/users', async (req, res) => {
    const providerId = await provider(req);
    const body = parseBody(providerUserInput, req.body);
    const result = await createUser(db, { providerId, ...body }, actorOf(req));
    if (!result.ok) throw emailInUse(body.email);
    res.status(201).json(userJson(result.user));
  });
  r.get('/providers/:id/users', async (req, res) => {
    const providerId = await provider(req);
    res.json({ items: (await listUsers(db, providerId)).map(userJson) });
  });
  r.delete('/providers/:id/users/:userId', async (req, res) => {
    const providerId = await provider(req);
    if (!(await removeUser(db, providerId, String(req.params.userId), actorOf(req)))) throw notFound('user');
    res.status(204).end();
  });

  r.post('/operators', async (req, res) => {
    requireAdmin(req);
    const body = parseBody(operatorInput, req.body);
    const result = await createUser(db, { providerId: null, role: 'operator', ...body }, 'operator');
    if (!result.ok) throw emailInUse(body.email);
    res.status(201).json(userJson(result.user));
  });
  r.get('/operators', async (req, res) => {
    requireAdmin(req);
    res.json({ items: (await listUsers(db, null)).map(userJson) });
  });
  r.delete('/operators/:userId', async (req, res) => {
    requireAdmin(req);
    if (!(await removeUser(db, null, String(req.params.userId), 'operator'))) throw notFound('operator');
    res.status(204).end();
  });
  return r;
}
