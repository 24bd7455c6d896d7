/** Registry (CONTRACT.md "Registry"): hospitals, providers, contacts, escalation policy, clients. */
import { randomBytes } from 'node:crypto';
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import type { Sql } from '../../db/client.js';
import { DESTINATION_CATEGORIES, METHOD_CATEGORIES, type CodeMap } from '../../domain/clinical.js';
import { isValidNhsNumber, nhsNumberProblem, normaliseNhsNumber } from '../../domain/nhs-number.js';
import { checkWebhookUrl } from '../../notify/url-guard.js';
import { normaliseUkMobile } from '../../notify/govuk-notify.js';
import type { AppDeps } from '../app.js';
import { hashKey, newApiKey, principal, requireAdmin, requireProviderAccess } from '../auth.js';
import { HttpProblem, notFound } from '../problem.js';
import { parseClientCsv } from './client-csv.js';
import { mllpSendersGiven, mllpSendersShape, saveMllpSenders, withMllpSenders } from './hospitals-security.js';

const odsCode = z
  .string()
  .trim()
  .regex(/^[A-Z0-9]{3,10}$/i, 'must be an ODS code: 3 to 10 letters and digits')
  .transform((s) => s.toUpperCase());
const orgBody = z.object({ odsCode, name: z.string().trim().min(1).max(200) }).strict();
/** A hospital may also carry its MLLP senders (CONTRACT.md "Security defaults"). */
const hospitalBody = orgBody.extend(mllpSendersShape);

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

async function audit(sql: Sql, req: Request, action: string, entityType: string, entityId: string, details?: object) {
  const p = principal(req);
  const actor = p.kind === 'admin' ? 'operator' : `${p.kind}:${p.odsCode}`;
  await sql`insert into audit_events (actor, action, entity_type, entity_id, details)
    values (${actor}, ${action}, ${entityType}, ${entityId}, ${details ? sql.json(details as never) : null})`;
}

export function createRegistryRoutes(deps: AppDeps): Router {
  const { sql } = deps;
  const r = Router();

  for (const kind of ['hospital', 'provider'] as const) {
    const table = kind === 'hospital' ? 'hospitals' : 'providers';
    r.post(`/${table}`, async (req, res) => {
      requireAdmin(req);
      const body = parseBody(kind === 'hospital' ? hospitalBody : orgBody, req.body);
      const apiKey = newApiKey(kind);
      const row = await sql.begin(async (tx) => {
        const [created] = await tx<{ id: string; odsCode: string; name: string }[]>`
          insert into ${tx(table)} (ods_code, name) values (${body.odsCode}, ${body.name})
          on conflict (ods_code) do nothing returning id, ods_code as "odsCode", name`;
        if (!created) return undefined;
        await tx`insert into api_keys (key_hash, kind, hospital_id, provider_id)
          values (${hashKey(apiKey)}, ${kind}, ${kind === 'hospital' ? created.id : null}, ${kind === 'provider' ? created.id : null})`;
        if (kind === 'hospital') await saveMllpSenders(tx as unknown as Sql, created.id, body);
        return created;
      });
      if (!row) throw new HttpProblem(409, 'Conflict', `A ${kind} with ODS code ${body.odsCode} is already registered`);
      await audit(sql, req, `${kind}.registered`, kind, row.id);
      if (kind === 'hospital') deps.mllpSendersChanged?.();
      res.status(201).json({ ...row, ...mllpSendersGiven(body), apiKey });
    });
    r.get(`/${table}`, async (req, res) => {
      requireAdmin(req);
      const rows =
        await sql`select id, ods_code as "odsCode", name, created_at as "createdAt" from ${sql(table)} order by ods_code`;
      res.json({ items: kind === 'hospital' ? await withMllpSenders(sql, rows as unknown as { id: string }[]) : rows });
    });
    r.get(`/${table}/:id`, async (req, res) => {
      const id = String(req.params.id);
      if (kind === 'provider') requireProviderAccess(req, id);
      else requireAdmin(req);
      if (!uuid.safeParse(id).success) throw notFound(kind);
      const [row] =
        await sql`select id, ods_code as "odsCode", name, created_at as "createdAt" from ${sql(table)} where id = ${id}`;
      if (!row) throw notFound(kind);
      res.json(kind === 'hospital' ? (await withMllpSenders(sql, [row as { id: string }]))[0] : row);
    });
  }

  /** The hospital of `/hospitals/:id/...` (operator only: 403 for other keys), or 404. */
  async function hospital(req: Request): Promise<{ id: string; odsCode: string; codeMap: CodeMap | null }> {
    requireAdmin(req);
    const id = String(req.params.id);
    if (!uuid.safeParse(id).success) throw notFound('hospital');
    const [row] = await sql<{ id: string; odsCode: string; codeMap: CodeMap | null }[]>`
      select id, ods_code as "odsCode", code_map as "codeMap" from hospitals where id = ${id}`;
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
    await sql`update hospitals set code_map = ${sql.json(map as never)}, code_map_updated_at = now() where id = ${h.id}`;
    deps.ingest.codeMapChanged(h.odsCode);
    await audit(sql, req, 'hospital.code-map.updated', 'hospital', h.id, map);
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
    const [row] = await sql`select id from providers where id = ${id}`;
    if (!row) throw notFound('provider');
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
    const [row] = await sql<Record<string, unknown>[]>`
      insert into contacts (provider_id, name, role, phone, email, webhook_url, webhook_secret)
      values (${providerId}, ${body.name}, ${body.role}, ${phone}, ${body.email ?? null}, ${body.webhookUrl ?? null}, ${webhookSecret})
      returning id, provider_id as "providerId", name, role, phone, email, webhook_url as "webhookUrl", created_at as "createdAt"`;
    await audit(sql, req, 'contact.created', 'contact', String(row!.id));
    res.status(201).json({ ...row, ...(webhookSecret ? { webhookSecret } : {}) });
  });

  r.get('/providers/:id/contacts', async (req, res) => {
    const providerId = await provider(req);
    const rows = await sql`
      select id, provider_id as "providerId", name, role, phone, email, webhook_url as "webhookUrl", created_at as "createdAt"
      from contacts where provider_id = ${providerId} and deleted_at is null order by created_at`;
    res.json({ items: rows });
  });

  r.delete('/providers/:id/contacts/:contactId', async (req, res) => {
    const providerId = await provider(req);
    const contactId = String(req.params.contactId);
    if (!uuid.safeParse(contactId).success) throw notFound('contact');
    const rows = await sql`update contacts set deleted_at = now()
      where id = ${contactId} and provider_id = ${providerId} and deleted_at is null returning id`;
    if (rows.length === 0) throw notFound('contact');
    await audit(sql, req, 'contact.deleted', 'contact', contactId);
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
    const known = await sql<{ id: string }[]>`
      select id from contacts where provider_id = ${providerId} and deleted_at is null and id = any(${sql.array(ids)}::uuid[])`;
    const errors = body.steps.flatMap((step, i) =>
      step.contactIds
        .filter((id) => !known.some((k) => k.id === id))
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
    await sql`insert into escalation_policies (provider_id, steps, repeat) values (${providerId}, ${sql.json(policy.steps as never)}, ${policy.repeat})
      on conflict (provider_id) do update set steps = excluded.steps, repeat = excluded.repeat, updated_at = now()`;
    await audit(sql, req, 'policy.updated', 'provider', providerId);
    res.status(200).json({ providerId, ...policy });
  });

  r.get('/providers/:id/escalation-policy', async (req, res) => {
    const providerId = await provider(req);
    const [row] = await sql<
      { steps: unknown; repeat: number }[]
    >`select steps, repeat from escalation_policies where provider_id = ${providerId}`;
    if (!row) throw notFound('escalation policy');
    res.json({ providerId, steps: row.steps, repeat: row.repeat });
  });

  const clientColumns = sql`id, nhs_number as "nhsNumber", date_of_birth::text as "dateOfBirth", family_name as "familyName",
    given_name as "givenName", reference, created_at as "createdAt", updated_at as "updatedAt",
    not_our_client_at as "notOurClientAt", not_our_client_by as "notOurClientBy"`;

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
    const [row] = await upsertClient(sql, providerId, nhs, body);
    await audit(sql, req, row!.created ? 'client.registered' : 'client.updated', 'client', String(row!.id));
    const [client] = await sql<ClientRow[]>`select ${clientColumns} from clients where id = ${row!.id}`;
    res.status(row!.created ? 201 : 200).json(clientView(client!));
  });

  r.get('/providers/:id/clients/:nhsNumber', async (req, res) => {
    const providerId = await provider(req);
    const nhs = nhsParam(req);
    const [client] = await sql<
      ClientRow[]
    >`select ${clientColumns} from clients where provider_id = ${providerId} and nhs_number = ${nhs}`;
    if (!client) throw notFound('client');
    res.json(clientView(client));
  });

  r.delete('/providers/:id/clients/:nhsNumber', async (req, res) => {
    const providerId = await provider(req);
    const nhs = nhsParam(req);
    const rows = await sql<
      { id: string }[]
    >`delete from clients where provider_id = ${providerId} and nhs_number = ${nhs} returning id`;
    if (rows.length === 0) throw notFound('client');
    await audit(sql, req, 'client.removed', 'client', rows[0]!.id);
    res.status(204).end();
  });

  r.get('/providers/:id/clients', async (req, res) => {
    const providerId = await provider(req);
    const rows = await sql<
      ClientRow[]
    >`select ${clientColumns} from clients where provider_id = ${providerId} order by family_name nulls last, nhs_number`;
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
      let created = 0;
      let updated = 0;
      const rejected = [...parsed.rejected];
      await sql.begin(async (tx) => {
        for (const row of parsed.rows) {
          const body = clientBody.safeParse(row.client);
          if (!body.success) {
            const reason = body.error.issues
              .map((i) => `${csvColumn(String(i.path[0] ?? ''))}: ${i.message}`)
              .join('; ');
            rejected.push({ line: row.line, reason });
            continue;
          }
          const [r2] = await upsertClient(tx as unknown as Sql, providerId, row.nhsNumber, body.data);
          if (r2!.created) created++;
          else updated++;
        }
      });
      rejected.sort((a, b) => a.line - b.line);
      await audit(sql, req, 'clients.imported', 'provider', providerId, {
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

interface ClientRow {
  id: string;
  nhsNumber: string;
  dateOfBirth: string;
  familyName: string | null;
  givenName: string | null;
  reference: string | null;
  createdAt: Date;
  updatedAt: Date;
  notOurClientAt: Date | null;
  notOurClientBy: string | null;
}

/**
 * A client as the provider sees it. `notOurClient` is `{at, by}` once an alert for this person was acknowledged
 * `not-our-client` (so the provider can clean its list), else null.
 */
function clientView(r: ClientRow) {
  const { notOurClientAt, notOurClientBy, ...rest } = r;
  return {
    ...rest,
    notOurClient: notOurClientAt ? { at: notOurClientAt.toISOString(), by: notOurClientBy } : null,
  };
}

function upsertClient(
  sql: Sql,
  providerId: string,
  nhs: string,
  body: { dateOfBirth: string; familyName?: string; givenName?: string; reference?: string },
) {
  return sql<{ id: string; created: boolean }[]>`
    insert into clients (provider_id, nhs_number, date_of_birth, family_name, given_name, reference)
    values (${providerId}, ${nhs}, ${body.dateOfBirth}, ${body.familyName ?? null}, ${body.givenName ?? null}, ${body.reference ?? null})
    on conflict (provider_id, nhs_number) do update set date_of_birth = excluded.date_of_birth,
      family_name = excluded.family_name, given_name = excluded.given_name, reference = excluded.reference, updated_at = now()
    returning id, (xmax = 0) as created`;
}
