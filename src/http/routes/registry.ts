/** Registry (CONTRACT.md "Registry"): hospitals, providers, contacts, escalation policy, clients. */
import { randomBytes } from 'node:crypto';
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import * as audit from '../../db/audit.js';
import type { Db } from '../../db/client.js';
import * as hospitals from '../../db/hospitals.js';
import * as providers from '../../db/providers.js';
import { DESTINATION_CATEGORIES, METHOD_CATEGORIES, type CodeMap } from '../../domain/clinical.js';
import { isValidNhsNumber, nhsNumberProblem, normaliseNhsNumber } from '../../domain/nhs-number.js';
import { checkWebhookUrl } from '../../notify/url-guard.js';
import { normaliseUkMobile } from '../../notify/govuk-notify.js';
import type { AppDeps } from '../app.js';
import { hashKey, newApiKey, principal, requireAdmin, requireProviderAccess } from '../auth.js';
import { HttpProblem, notFound } from '../problem.js';
import { parseClientCsv } from './client-csv.js';
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

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s) && d.getTime() <= Date.now();
  }, 'must be a real date, not in the future');

const clientBody = z
  .object({
    dateOfBirth: isoDate,
    familyName: z.string().trim().max(100).optional(),
    givenName: z.string().trim().max(100).optional(),
    reference: z.string().trim().max(100).optional(),
  })
  .strict();

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
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const errors = r.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
  throw new HttpProblem(400, 'Invalid request', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });
}

/** Audits a change made by this request's caller (`operator`, or `<kind>:<ODS code>`). */
async function auditBy(
  db: Db,
  req: Request,
  action: string,
  entityType: string,
  entityId: string,
  details?: Record<string, unknown>,
) {
  const p = principal(req);
  const actor = p.kind === 'admin' ? 'operator' : `${p.kind}:${p.odsCode}`;
  await audit.record(db, { actor, action, entityType, entityId, ...(details ? { details } : {}) });
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

  const contactBody = z
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

  r.post('/providers/:id/contacts', async (req, res) => {
    const providerId = await provider(req);
    const body = parseBody(contactBody, req.body);
    if (body.webhookUrl !== undefined) {
      const check = checkWebhookUrl(body.webhookUrl, { allowLoopback: deps.config.allowLoopbackWebhooks });
      if (!check.ok) {
        throw new HttpProblem(400, 'Invalid request', `webhookUrl: ${check.reason}`, {
          errors: [{ field: 'webhookUrl', message: check.reason }],
        });
      }
    }
    const webhookSecret = body.webhookUrl ? `whsec_${randomBytes(32).toString('base64url')}` : null;
    const phone = body.phone ? normaliseUkMobile(body.phone) : null;
    const row = await providers.addContact(db, {
      providerId,
      name: body.name,
      role: body.role,
      phone,
      email: body.email ?? null,
      webhookUrl: body.webhookUrl ?? null,
      webhookSecret,
    });
    await auditBy(db, req, 'contact.created', 'contact', row.id);
    res.status(201).json({ ...row, ...(webhookSecret ? { webhookSecret } : {}) });
  });

  r.get('/providers/:id/contacts', async (req, res) => {
    const providerId = await provider(req);
    res.json({ items: await providers.listContacts(db, providerId) });
  });

  r.delete('/providers/:id/contacts/:contactId', async (req, res) => {
    const providerId = await provider(req);
    const contactId = String(req.params.contactId);
    if (!uuid.safeParse(contactId).success) throw notFound('contact');
    if (!(await providers.deleteContact(db, providerId, contactId))) throw notFound('contact');
    await auditBy(db, req, 'contact.deleted', 'contact', contactId);
    res.status(204).end();
  });

  const policyBody = z
    .object({
      steps: z
        .array(
          z
            .object({
              contactIds: z.array(uuid).min(1, 'must name at least one contact'),
              channels: z.array(z.enum(['sms', 'email', 'webhook'])).min(1, 'must name at least one channel'),
              waitSeconds: z
                .number()
                .int('must be a whole number of seconds')
                .min(1, 'must be at least 1 second')
                .max(7 * 24 * 3600, 'must be at most 604800 seconds (7 days)'),
            })
            .strict(),
        )
        .min(1, 'must have at least one step')
        .max(20),
      repeat: z.number().int().min(0).max(10).optional(),
    })
    .strict();

  r.put('/providers/:id/escalation-policy', async (req, res) => {
    const providerId = await provider(req);
    const body = parseBody(policyBody, req.body);
    const ids = [...new Set(body.steps.flatMap((s) => s.contactIds))];
    const known = await providers.activeContactIds(db, providerId, ids);
    const errors = body.steps.flatMap((step, i) =>
      step.contactIds
        .filter((id) => !known.has(id))
        .map((id) => ({
          field: `steps.${i}.contactIds`,
          message: `unknown contact ${id} (not a contact of this provider)`,
        })),
    );
    if (errors.length > 0) {
      throw new HttpProblem(400, 'Invalid request', errors.map((e) => `${e.field}: ${e.message}`).join('; '), {
        errors,
      });
    }
    const policy = { steps: body.steps, repeat: body.repeat ?? 0 };
    await providers.putPolicy(db, providerId, policy);
    await auditBy(db, req, 'policy.updated', 'provider', providerId);
    res.status(200).json({ providerId, ...policy });
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
      const parsed = parseClientCsv(req.body);
      if ('error' in parsed) throw new HttpProblem(400, 'Invalid CSV', parsed.error);
      const rejected = [...parsed.rejected];
      const valid: { nhsNumber: string; details: providers.ClientDetails }[] = [];
      for (const row of parsed.rows) {
        const body = clientBody.safeParse(row.client);
        if (!body.success) {
          const reason = body.error.issues.map((i) => `${csvColumn(String(i.path[0] ?? ''))}: ${i.message}`).join('; ');
          rejected.push({ line: row.line, reason });
          continue;
        }
        valid.push({ nhsNumber: row.nhsNumber, details: body.data });
      }
      const { created, updated } = await providers.importClients(db, providerId, valid);
      rejected.sort((a, b) => a.line - b.line);
      await auditBy(db, req, 'clients.imported', 'provider', providerId, {
        created,
        updated,
        rejected: rejected.length,
      });
      res.status(200).json({ created, updated, rejected });
    },
  );

  return r;
}

/** The CSV column a client field comes from, so an import's reasons name what the provider sees in its file. */
function csvColumn(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) || '(row)';
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
