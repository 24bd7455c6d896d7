/**
 * Portal users (CONTRACT.md "Web portal", "Users"): the one place that creates, lists and removes them, used by the
 * API (`/v1/providers/{id}/users`, `/v1/operators`) and the provider admin's pages alike.
 */
import { z } from 'zod';
import * as audit from '../db/audit.js';
import type { Db } from '../db/client.js';
import * as users from '../db/users.js';

export type { UserView, UserRole } from '../db/users.js';

const email = z
  .string({ required_error: 'is required', invalid_type_error: 'must be an email address' })
  .trim()
  .max(254, 'must be at most 254 characters')
  .email('must be an email address')
  .transform((s) => s.toLowerCase());
const name = z
  .string({ required_error: 'is required', invalid_type_error: 'must be text' })
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters');

/** `POST /v1/providers/{id}/users` (and the admin's "add user" form). */
export const providerUserInput = z
  .object({
    email,
    name,
    role: z.enum(['coordinator', 'admin'], {
      errorMap: () => ({ message: 'must be one of coordinator, admin' }),
    }),
  })
  .strict();

/** `POST /v1/operators`. */
export const operatorInput = z.object({ email, name }).strict();

/** A user as the API answers it. */
export interface UserJson {
  id: string;
  providerId: string | null;
  email: string;
  name: string;
  role: users.UserRole;
  createdAt: string;
  lastSignInAt: string | null;
}

export const userJson = (u: users.UserView): UserJson => ({
  id: u.id,
  providerId: u.providerId,
  email: u.email,
  name: u.name,
  role: u.role,
  createdAt: u.createdAt.toISOString(),
  lastSignInAt: u.lastSignInAt?.toISOString() ?? null,
});

/**
 * Adds a user of a provider (`providerId`) or an operator (`providerId` null), audited as `actor`. `email-in-use`
 * when a current user (of any provider, or an operator) has that email address: one address, one sign-in.
 */
export async function createUser(
  db: Db,
  input: { providerId: string | null; email: string; name: string; role: users.UserRole },
  actor: string,
): Promise<{ ok: true; user: users.UserView } | { ok: false; reason: 'email-in-use' }> {
  const user = await users.add(db, input);
  if (!user) return { ok: false, reason: 'email-in-use' };
  await audit.record(db, {
    actor,
    action: 'user.created',
    entityType: 'user',
    entityId: user.id,
    details: { role: user.role, providerId: user.providerId },
  });
  return { ok: true, user };
}

/** A provider's users (`providerId` null: the operators), by name. */
export const listUsers = (db: Db, providerId: string | null): Promise<users.UserView[]> => users.list(db, providerId);

/** Removes a provider's user (`providerId` null: an operator), audited; false when there is no such user there. */
export async function removeUser(db: Db, providerId: string | null, userId: string, actor: string): Promise<boolean> {
  if (!z.string().uuid().safeParse(userId).success) return false;
  const removed = await users.remove(db, providerId, userId);
  if (removed) {
    await audit.record(db, { actor, action: 'user.removed', entityType: 'user', entityId: userId });
  }
  return removed;
}
