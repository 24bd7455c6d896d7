/**
 * Care providers (`providers`) and what belongs to each: its contacts, its escalation policy and its registered
 * clients.
 */
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { EscalationPolicy } from '../domain/escalation.js';
import * as apiKeys from './api-keys.js';
import { transaction, type Db } from './client.js';
import { clients, contacts, escalationPolicies, providers } from './schema.js';

export type Provider = typeof providers.$inferSelect;
export type Contact = typeof contacts.$inferSelect;
export type Client = typeof clients.$inferSelect;

/** A provider as the registry shows it. */
export type ProviderSummary = Pick<Provider, 'id' | 'odsCode' | 'name' | 'createdAt'>;

const summary = { id: providers.id, odsCode: providers.odsCode, name: providers.name, createdAt: providers.createdAt };

/**
 * Registers a provider with its first API key (stored hashed), in one transaction. Undefined when the ODS code is
 * registered already (nothing is changed).
 */
export function register(
  db: Db,
  input: { odsCode: string; name: string; keyHash: string },
): Promise<Pick<Provider, 'id' | 'odsCode' | 'name'> | undefined> {
  return transaction(db, async (tx) => {
    const [created] = await tx.orm
      .insert(providers)
      .values({ odsCode: input.odsCode, name: input.name })
      .onConflictDoNothing({ target: providers.odsCode })
      .returning({ id: providers.id, odsCode: providers.odsCode, name: providers.name });
    if (!created) return undefined;
    await apiKeys.add(tx, { keyHash: input.keyHash, kind: 'provider', providerId: created.id });
    return created;
  });
}

/** Every provider, by ODS code. */
export function list(db: Db): Promise<ProviderSummary[]> {
  return db.orm.select(summary).from(providers).orderBy(asc(providers.odsCode));
}

export async function get(db: Db, id: string): Promise<ProviderSummary | undefined> {
  const [row] = await db.orm.select(summary).from(providers).where(eq(providers.id, id));
  return row;
}

export async function exists(db: Db, id: string): Promise<boolean> {
  const [row] = await db.orm.select({ id: providers.id }).from(providers).where(eq(providers.id, id));
  return row !== undefined;
}

// ---- contacts ----

/** A contact as the provider sees it: never its webhook secret (shown once, when the contact is created). */
export type ContactView = Pick<
  Contact,
  'id' | 'providerId' | 'name' | 'role' | 'phone' | 'email' | 'webhookUrl' | 'createdAt'
>;

const contactView = {
  id: contacts.id,
  providerId: contacts.providerId,
  name: contacts.name,
  role: contacts.role,
  phone: contacts.phone,
  email: contacts.email,
  webhookUrl: contacts.webhookUrl,
  createdAt: contacts.createdAt,
};

export async function addContact(
  db: Db,
  input: Pick<Contact, 'providerId' | 'name' | 'role' | 'phone' | 'email' | 'webhookUrl' | 'webhookSecret'>,
): Promise<ContactView> {
  const [row] = await db.orm.insert(contacts).values(input).returning(contactView);
  return row!;
}

/** The provider's contacts that are not deleted, oldest first. */
export function listContacts(db: Db, providerId: string): Promise<ContactView[]> {
  return db.orm
    .select(contactView)
    .from(contacts)
    .where(and(eq(contacts.providerId, providerId), isNull(contacts.deletedAt)))
    .orderBy(asc(contacts.createdAt));
}

/** Marks one of the provider's contacts deleted; false when it has no such (undeleted) contact. */
export async function deleteContact(db: Db, providerId: string, contactId: string): Promise<boolean> {
  const rows = await db.orm
    .update(contacts)
    .set({ deletedAt: sql`now()` })
    .where(and(eq(contacts.id, contactId), eq(contacts.providerId, providerId), isNull(contacts.deletedAt)))
    .returning({ id: contacts.id });
  return rows.length > 0;
}

/** Which of `ids` are contacts of this provider that are not deleted. */
export async function activeContactIds(db: Db, providerId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.orm
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(eq(contacts.providerId, providerId), isNull(contacts.deletedAt), inArray(contacts.id, ids)));
  return new Set(rows.map((r) => r.id));
}

/** The provider's contacts that are not deleted, oldest first, with the channels each has. */
export function activeContacts(
  db: Db,
  providerId: string,
): Promise<Pick<Contact, 'id' | 'phone' | 'email' | 'webhookUrl'>[]> {
  return db.orm
    .select({ id: contacts.id, phone: contacts.phone, email: contacts.email, webhookUrl: contacts.webhookUrl })
    .from(contacts)
    .where(and(eq(contacts.providerId, providerId), isNull(contacts.deletedAt)))
    .orderBy(asc(contacts.createdAt));
}

/** One contact with its addresses and webhook secret (for a delivery), deleted or not. */
export async function getContact(
  db: Db,
  contactId: string,
): Promise<Pick<Contact, 'id' | 'phone' | 'email' | 'webhookUrl' | 'webhookSecret' | 'deletedAt'> | undefined> {
  const [row] = await db.orm
    .select({
      id: contacts.id,
      phone: contacts.phone,
      email: contacts.email,
      webhookUrl: contacts.webhookUrl,
      webhookSecret: contacts.webhookSecret,
      deletedAt: contacts.deletedAt,
    })
    .from(contacts)
    .where(eq(contacts.id, contactId));
  return row;
}

// ---- escalation policy ----

/** Sets (or replaces) the provider's escalation policy. */
export async function putPolicy(db: Db, providerId: string, policy: EscalationPolicy): Promise<void> {
  await db.orm
    .insert(escalationPolicies)
    .values({ providerId, steps: policy.steps, repeat: policy.repeat })
    .onConflictDoUpdate({
      target: escalationPolicies.providerId,
      set: { steps: policy.steps, repeat: policy.repeat, updatedAt: sql`now()` },
    });
}

/** The provider's escalation policy as it was set; undefined when none was. */
export async function getPolicy(db: Db, providerId: string): Promise<EscalationPolicy | undefined> {
  const [row] = await db.orm
    .select({ steps: escalationPolicies.steps, repeat: escalationPolicies.repeat })
    .from(escalationPolicies)
    .where(eq(escalationPolicies.providerId, providerId));
  return row;
}

// ---- clients ----

/** A registered client as the provider sees it. */
export type ClientRow = Pick<
  Client,
  | 'id'
  | 'nhsNumber'
  | 'dateOfBirth'
  | 'familyName'
  | 'givenName'
  | 'reference'
  | 'createdAt'
  | 'updatedAt'
  | 'notOurClientAt'
  | 'notOurClientBy'
>;

const clientRow = {
  id: clients.id,
  nhsNumber: clients.nhsNumber,
  dateOfBirth: clients.dateOfBirth,
  familyName: clients.familyName,
  givenName: clients.givenName,
  reference: clients.reference,
  createdAt: clients.createdAt,
  updatedAt: clients.updatedAt,
  notOurClientAt: clients.notOurClientAt,
  notOurClientBy: clients.notOurClientBy,
};

export interface ClientDetails {
  dateOfBirth: string;
  familyName?: string;
  givenName?: string;
  reference?: string;
}

/** Registers the provider's client with this NHS number, or replaces its details; `created` tells which. */
export async function upsertClient(
  db: Db,
  providerId: string,
  nhsNumber: string,
  details: ClientDetails,
): Promise<{ id: string; created: boolean }> {
  const values = {
    dateOfBirth: details.dateOfBirth,
    familyName: details.familyName ?? null,
    givenName: details.givenName ?? null,
    reference: details.reference ?? null,
  };
  const [row] = await db.orm
    .insert(clients)
    .values({ providerId, nhsNumber, ...values })
    .onConflictDoUpdate({
      target: [clients.providerId, clients.nhsNumber],
      set: { ...values, updatedAt: sql`now()` },
    })
    .returning({ id: clients.id, created: sql<boolean>`(xmax = 0)` });
  return row!;
}

/**
 * Registers or updates many clients in one transaction (a CSV import): each valid row is upserted; the counts of
 * created and updated ones are returned.
 */
export function importClients(
  db: Db,
  providerId: string,
  rows: { nhsNumber: string; details: ClientDetails }[],
): Promise<{ created: number; updated: number }> {
  return transaction(db, async (tx) => {
    let created = 0;
    let updated = 0;
    for (const row of rows) {
      if ((await upsertClient(tx, providerId, row.nhsNumber, row.details)).created) created++;
      else updated++;
    }
    return { created, updated };
  });
}

export async function getClient(db: Db, id: string): Promise<ClientRow | undefined> {
  const [row] = await db.orm.select(clientRow).from(clients).where(eq(clients.id, id));
  return row;
}

/** The provider's client with this NHS number. */
export async function findClient(db: Db, providerId: string, nhsNumber: string): Promise<ClientRow | undefined> {
  const [row] = await db.orm
    .select(clientRow)
    .from(clients)
    .where(and(eq(clients.providerId, providerId), eq(clients.nhsNumber, nhsNumber)));
  return row;
}

/** Removes the provider's client with this NHS number; its id, or undefined when there was none. */
export async function deleteClient(db: Db, providerId: string, nhsNumber: string): Promise<string | undefined> {
  const [row] = await db.orm
    .delete(clients)
    .where(and(eq(clients.providerId, providerId), eq(clients.nhsNumber, nhsNumber)))
    .returning({ id: clients.id });
  return row?.id;
}

/** The provider's clients by family name (those without one last), then NHS number. */
export function listClients(db: Db, providerId: string): Promise<ClientRow[]> {
  return db.orm
    .select(clientRow)
    .from(clients)
    .where(eq(clients.providerId, providerId))
    .orderBy(sql`${clients.familyName} nulls last`, asc(clients.nhsNumber));
}

/**
 * How many clients each provider (or the one given) has registered, by provider id (providers with none are absent).
 */
export async function clientCounts(db: Db, providerId?: string): Promise<Map<string, number>> {
  const rows = await db.orm
    .select({ providerId: clients.providerId, count: sql<number>`count(*)::int` })
    .from(clients)
    .where(providerId === undefined ? undefined : eq(clients.providerId, providerId))
    .groupBy(clients.providerId);
  return new Map(rows.map((r) => [r.providerId, r.count]));
}

/** Every provider's client with this NHS number, by provider ODS code (matching an admission). */
export function clientsWithNhsNumber(
  db: Db,
  nhsNumber: string,
): Promise<{ providerId: string; providerOds: string; clientId: string; dateOfBirth: string }[]> {
  return db.orm
    .select({
      providerId: providers.id,
      providerOds: providers.odsCode,
      clientId: clients.id,
      dateOfBirth: clients.dateOfBirth,
    })
    .from(clients)
    .innerJoin(providers, eq(providers.id, clients.providerId))
    .where(eq(clients.nhsNumber, nhsNumber))
    .orderBy(asc(providers.odsCode));
}

/** The provider's client with this NHS number, with the provider's ODS code (an operator's review match). */
export async function clientOfProvider(
  db: Db,
  providerId: string,
  nhsNumber: string,
): Promise<{ id: string; providerOds: string } | undefined> {
  const [row] = await db.orm
    .select({ id: clients.id, providerOds: providers.odsCode })
    .from(clients)
    .innerJoin(providers, eq(providers.id, clients.providerId))
    .where(and(eq(clients.providerId, providerId), eq(clients.nhsNumber, nhsNumber)));
  return row;
}

/**
 * Records that an alert for this client was acknowledged `not-our-client` (shown in the provider's client list so
 * it can clean it); the first such record stays.
 */
export async function markNotOurClient(db: Db, clientId: string, by: string): Promise<void> {
  await db.orm
    .update(clients)
    .set({ notOurClientAt: sql`now()`, notOurClientBy: by })
    .where(and(eq(clients.id, clientId), isNull(clients.notOurClientAt)));
}
