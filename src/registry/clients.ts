/**
 * A provider's clients (CONTRACT.md "Registry": `PUT /v1/providers/{id}/clients/{nhsNumber}` and the CSV import):
 * the rules a client's details must meet, and a client list read and checked before anything is saved, as both the
 * API import and the portal's roster upload use it.
 */
import { z } from 'zod';
import * as audit from '../db/audit.js';
import type { Db } from '../db/client.js';
import * as providers from '../db/providers.js';
import type { ClientDetails } from '../db/providers.js';
import { parseClientCsv } from './client-csv.js';

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s) && d.getTime() <= Date.now();
  }, 'must be a real date, not in the future');

/** A client's details: a real date of birth not in the future; names and reference up to 100 characters. */
export const clientBody = z
  .object({
    dateOfBirth: isoDate,
    familyName: z.string().trim().max(100).optional(),
    givenName: z.string().trim().max(100).optional(),
    reference: z.string().trim().max(100).optional(),
  })
  .strict();

/** A client list, read and checked, nothing saved: the rows that can be saved and the lines refused, by line. */
export interface ClientListCheck {
  accepted: { line: number; nhsNumber: string; details: ClientDetails }[];
  rejected: { line: number; reason: string }[];
}

/**
 * Reads a CSV client list (src/registry/client-csv.ts) and checks each row with the same rules as a single client's
 * registration; the reasons name the CSV column (`date_of_birth: must be a real date, not in the future`). An error
 * when the header names neither the NHS number nor the date of birth column.
 */
export function checkClientList(text: string): ClientListCheck | { error: string } {
  const parsed = parseClientCsv(text);
  if ('error' in parsed) return parsed;
  const rejected = [...parsed.rejected];
  const accepted: ClientListCheck['accepted'] = [];
  for (const row of parsed.rows) {
    const body = clientBody.safeParse(row.client);
    if (!body.success) {
      const reason = body.error.issues.map((i) => `${csvColumn(String(i.path[0] ?? ''))}: ${i.message}`).join('; ');
      rejected.push({ line: row.line, reason });
      continue;
    }
    accepted.push({ line: row.line, nhsNumber: row.nhsNumber, details: body.data });
  }
  rejected.sort((a, b) => a.line - b.line);
  return { accepted, rejected };
}

/** The CSV column a client field comes from, so an import's reasons name what the provider sees in its file. */
function csvColumn(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) || '(row)';
}

/**
 * Saves the accepted rows of a checked client list in one transaction (each registered, or its details replaced)
 * and audits `clients.imported` by `actor` with the counts.
 */
export async function importClientList(
  db: Db,
  providerId: string,
  list: ClientListCheck,
  actor: string,
): Promise<{ created: number; updated: number }> {
  const { created, updated } = await providers.importClients(
    db,
    providerId,
    list.accepted.map((r) => ({ nhsNumber: r.nhsNumber, details: r.details })),
  );
  await audit.record(db, {
    actor,
    action: 'clients.imported',
    entityType: 'provider',
    entityId: providerId,
    details: { created, updated, rejected: list.rejected.length },
  });
  return { created, updated };
}
