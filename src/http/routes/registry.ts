/** Registry (CONTRACT.md "Registry"): hospitals, providers, contacts, escalation policy, clients. */
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import * as audit from '../../db/audit.js';
import type { Db } from '../../db/client.js';
import * as hospitals from '../../db/hospitals.js';
import * as providers from '../../db/providers.js';
import { DESTINATION_CATEGORIES, METHOD_CATEGORIES, type CodeMap } from '../../domain/clinical.js';
import { isValidNhsNumber, nhsNumberProblem, normaliseNhsNumber } from '../../domain/nhs-number.js';
import { checkClientList, clientBody, importClientList } from '../../registry/clients.js';
import { addContact, removeContact } from '../../registry/contacts.js';
import { savePolicy } from '../../registry/escalation-policy.js';
import { check, type FieldError } from '../../registry/validation.js';
import type { AppDeps } from '../app.js';
import { hashKey, newApiKey, actorOf, requireAdmin, requireProviderAccess } from '../auth.js';
import { HttpProblem, notFound } from '../problem.js';
import { silenceAlertSecondsShape, wakeFeedWatcher } from './feeds.js';
import { mllpSendersGiven, mllpSendersShape, saveMllpSenders, withMllpSenders } from './hospitals-security.js';

const odsCode = z
  .string()
  .trim()
  .regex(/^[A-Z0-9]{3,10}$/i, 'must be an ODS code: 3 to 10 letters and digits')
  .transform((s) => s.toUpperCase());
const orgBody = z.object({ odsCode, name: z.string().trim().min(1).max(200) }).strict();
/** A hospital may also carry its MLLP senders (CONTRACT.md "Security defaults") and its feed's silence threshold. */
const hospitalBody = orgBody.extend(mllpSendersShape).extend(silenceAlertSecondsShape);

const uuid = z.string().uuid();

/** A hospital's own code (PV1-36 / PV1-37): 1 to 20 characters, no surrounding spaces, no control characters. */
const hospitalCode = z
  .string()
  .min(1, 'codes must be 1 to 20 characters')
  .max(20, 'codes must be 1 to 20 characters')
  .refine(
    (c) => c === c.trim() && ![...c].some((ch) => ch < ' ' || ch === '\u007f'),
    'codes must not start or end with spaces or hold control characters',
  );
const oneOf = (values: readonly string[]) => ({
  errorMap: () => ({ message: `must be one of ${values.join(', ')}` }),
});
/** `PUT /v1/hospitals/{id}/code-map` (CONTRACT.md "Discharge destination"). */
const codeMapBody = z
  .object({
    dischargeMethod: z
      .record(hospitalCode, z.enum(METHOD_CATEGORIES as [string, ...string[]], oneOf(METHOD_CATEGORIES)))
      .optional(),
    dischargeDestination: z
      .record(hospitalCode, z.enum(DESTINATION_CATEGORIES as [string, ...string[]], oneOf(DESTINATION_CATEGORIES)))
      .optional(),
  })
  .strict();

/** A stored code map as operators see it: both parts, `{}` when a part (or the whole map) is not set. */
function codeMapView(map: CodeMap | null | undefined): Required<CodeMap> {
  return { dischargeMethod: map?.dischargeMethod ?? {}, dischargeDestination: map?.dischargeDestination ?? {} };
}

/** Turns a zod failure into a 400 problem listing each field. */
export function parseBody<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> {
  const r = check(schema, body);
  if (r.ok) return r.data;
  throw invalid(r.errors);
}

/** The 400 problem for failed registry rules: `detail` lists each `field: message`, `errors` carries them. */
function invalid(errors: FieldError[]): HttpProblem {
  return new HttpProblem(400, 'Invalid request', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });
}

/** Audits a change made by this request's caller. */
async function auditBy(
  db: Db,
  req: Request,
  action: string,
  entityType: string,
  entityId: string,
  details?: Record<string, unknown>,
) {
  await audit.record(db, { actor: actorOf(req), action, entityType, entityId, ...(details ? { details } : {}) });
}

export function createRegistryRoutes(deps: AppDeps): Router {
  const { db } = deps;
  const r = Router();

  for (const kind of ['hospital', 'provider'] as const) {
    const path = kind === 'hospital' ? 'hospitals' : 'providers';
    const orgs = kind === 'hospital' ? hospitals : providers;
    r.post(`/${path}`, async (req, res) => {
      requireAdmin(req);
      const body = parseBody(kind === 'hospital' ? hospitalBody : orgBody, req.body);
      const apiKey = newApiKey(kind);
      const org = { odsCode: body.odsCode, name: body.name, keyHash: hashKey(apiKey) };
      const silence = (body as { silenceAlertSeconds?: number }).silenceAlertSeconds;
      const row =
        kind === 'hospital'
          ? await hospitals.register(db, { ...org, ...(silence !== undefined ? { silenceAlertSeconds: silence } : {}) })
          : await providers.register(db, org);
      if (!row) throw new HttpProblem(409, 'Conflict', `A ${kind} with ODS code ${body.odsCode} is already registered`);
      // a hospital registered without its MLLP senders cannot send over MLLP: never less safe if this step fails
      if (kind === 'hospital') await saveMllpSenders(db, row.id, body);
      await auditBy(db, req, `${kind}.registered`, kind, row.id);
      if (kind === 'hospital') {
        deps.mllpSendersChanged?.();
        await wakeFeedWatcher(deps, row, false);
      }
      res.status(201).json({
        ...row,
        ...mllpSendersGiven(body),
        ...(silence !== undefined ? { silenceAlertSeconds: silence } : {}),
        apiKey,
      });
    });
    r.get(`/${path}`, async (req, res) => {
      requireAdmin(req);
      const rows = await orgs.list(db);
      res.json({ items: kind === 'hospital' ? await withMllpSenders(db, rows) : rows });
    });
    r.get(`/${path}/:id`, async (req, res) => {
      const id = String(req.params.id);
      if (kind === 'provider') requireProviderAccess(req, id);
      else requireAdmin(req);
      if (!uuid.safeParse(id).success) throw notFound(kind);
      const row = await orgs.get(db, id);
      if (!row) throw notFound(kind);
      res.json(kind === 'hospital' ? (await withMllpSenders(db, [row]))[0] : row);
    });
  }

  /** The hospital of `/hospitals/:id/...` (operator only: 403 for other keys), or 404. */
  async function hospital(req: Request): Promise<{ id: string; odsCode: string; codeMap: CodeMap | null }> {
    requireAdmin(req);
    const id = String(req.params.id);
    if (!uuid.safeParse(id).success) throw notFound('hospital');
    const row = await hospitals.getCodeMap(db, id);
    if (!row) throw notFound('hospital');
    return row;
  }

  /**
   * A hospital's own discharge codes, read before the national ones for messages received from then on (CONTRACT.md
   * "Discharge destination"): `{dischargeMethod: {code: died|alive}, dischargeDestination: {code: category}}`, both
   * optional; the whole map is replaced. This process's ingestion sees it at once, other processes within 10 s.
   */
  r.put('/hospitals/:id/code-map', async (req, res) => {
    const h = await hospital(req);
    const body = parseBody(codeMapBody, req.body) as CodeMap;
    const map = codeMapView(body);
    await hospitals.setCodeMap(db, h.id, map);
    deps.ingest.codeMapChanged(h.odsCode);
    await auditBy(db, req, 'hospital.code-map.updated', 'hospital', h.id, map);
    res.status(200).json(map);
  });

  r.get('/hospitals/:id/code-map', async (req, res) => {
    const h = await hospital(req);
    res.json(codeMapView(h.codeMap));
  });

  async function provider(req: Request): Promise<string> {
    const id = String(req.params.id);
    requireProviderAccess(req, id);
    if (!uuid.safeParse(id).success) throw notFound('provider');
    if (!(await providers.exists(db, id))) throw notFound('provider');
    return id;
  }

  r.post('/providers/:id/contacts', async (req, res) => {
    const providerId = await provider(req);
    const r = await addContact(db, providerId, req.body, {
      allowLoopbackWebhooks: deps.config.allowLoopbackWebhooks,
      actor: actorOf(req),
    });
    if (!r.ok) throw invalid(r.errors);
    res.status(201).json({ ...r.contact, ...(r.webhookSecret ? { webhookSecret: r.webhookSecret } : {}) });
  });

  r.get('/providers/:id/contacts', async (req, res) => {
    const providerId = await provider(req);
    res.json({ items: await providers.listContacts(db, providerId) });
  });

  r.delete('/providers/:id/contacts/:contactId', async (req, res) => {
    const providerId = await provider(req);
    const contactId = String(req.params.contactId);
    if (!uuid.safeParse(contactId).success) throw notFound('contact');
    if (!(await removeContact(db, providerId, contactId, actorOf(req)))) throw notFound('contact');
    res.status(204).end();
  });

  r.put('/providers/:id/escalation-policy', async (req, res) => {
    const providerId = await provider(req);
    const r = await savePolicy(db, providerId, req.body, actorOf(req));
    if (!r.ok) throw invalid(r.errors);
    res.status(200).json({ providerId, ...r.policy });
  });

  r.get('/providers/:id/escalation-policy', async (req, res) => {
    const providerId = await provider(req);
    const row = await providers.getPolicy(db, providerId);
    if (!row) throw notFound('escalation policy');
    res.json({ providerId, steps: row.steps, repeat: row.repeat });
  });

  function nhsParam(req: Request): string {
    const nhs = normaliseNhsNumber(String(req.params.nhsNumber));
    if (!isValidNhsNumber(nhs)) {
      const reason = nhsNumberProblem(nhs) ?? 'not a valid NHS number';
      throw new HttpProblem(400, 'Invalid request', `nhsNumber: ${reason}`, {
        errors: [{ field: 'nhsNumber', message: reason }],
      });
    }
    return nhs;
  }

  r.put('/providers/:id/clients/:nhsNumber', async (req, res) => {
    const providerId = await provider(req);
    const nhs = nhsParam(req);
    const body = parseBody(clientBody, req.body);
    const row = await providers.upsertClient(db, providerId, nhs, body);
    await auditBy(db, req, row.created ? 'client.registered' : 'client.updated', 'client', row.id);
    const client = await providers.getClient(db, row.id);
    res.status(row.created ? 201 : 200).json(clientView(client!));
  });

  r.get('/providers/:id/clients/:nhsNumber', async (req, res) => {
    const providerId = await provider(req);
    const nhs = nhsParam(req);
    const client = await providers.findClient(db, providerId, nhs);
    if (!client) throw notFound('client');
    res.json(clientView(client));
  });

  r.delete('/providers/:id/clients/:nhsNumber', async (req, res) => {
    const providerId = await provider(req);
    const nhs = nhsParam(req);
    const removed = await providers.deleteClient(db, providerId, nhs);
    if (!removed) throw notFound('client');
    await auditBy(db, req, 'client.removed', 'client', removed);
    res.status(204).end();
  });

  r.get('/providers/:id/clients', async (req, res) => {
    const providerId = await provider(req);
    const rows = await providers.listClients(db, providerId);
    res.json({ items: rows.map(clientView) });
  });

  r.post(
    '/providers/:id/clients/import',
    express.text({ type: ['text/csv', 'text/plain', 'application/csv'], limit: '10mb' }),
    async (req, res) => {
      const providerId = await provider(req);
      if (typeof req.body !== 'string')
        throw new HttpProblem(415, 'Unsupported media type', 'Send the client list as text/csv');
      const list = checkClientList(req.body);
      if ('error' in list) throw new HttpProblem(400, 'Invalid CSV', list.error);
      const { created, updated } = await importClientList(db, providerId, list, actorOf(req));
      const rejected = list.rejected;
      res.status(200).json({ created, updated, rejected });
    },
  );

  return r;
}

/**
 * A client as the provider sees it. `notOurClient` is `{at, by}` once an alert for this person was acknowledged
 * `not-our-client` (so the provider can clean its list), else null.
 */
function clientView(r: providers.ClientRow) {
  const { notOurClientAt, notOurClientBy, ...rest } = r;
  return {
    ...rest,
    notOurClient: notOurClientAt ? { at: notOurClientAt.toISOString(), by: notOurClientBy } : null,
  };
}
