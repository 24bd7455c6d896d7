/**
 * People who sign in to the portal (`users`, CONTRACT.md "Web portal"): a provider's coordinators and admins, and
 * operators (no provider). Removing a user marks it deleted (its name stays on the alerts it acknowledged) and frees
 * its email address for a new user.
 */
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { users } from './schema.js';

export type User = typeof users.$inferSelect;
export type UserRole = User['role'];

/** A user as the API and the pages show it. */
export type UserView = Pick<User, 'id' | 'providerId' | 'email' | 'name' | 'role' | 'createdAt' | 'lastSignInAt'>;

const view = {
  id: users.id,
  providerId: users.providerId,
  email: users.email,
  name: users.name,
  role: users.role,
  createdAt: users.createdAt,
  lastSignInAt: users.lastSignInAt,
};

/** Adds a user; undefined when a current user has this email address already (case-insensitive). */
export async function add(
  db: Db,
  input: { providerId: string | null; email: string; name: string; role: UserRole },
): Promise<UserView | undefined> {
  const [row] = await db.orm
    .insert(users)
    .values(input)
    .onConflictDoNothing() // the only unique index but the key: users_email_uq (lower(email), current users)
    .returning(view);
  return row;
}

/** The current (not removed) user with this email address, whatever its case. */
export async function byEmail(db: Db, email: string): Promise<UserView | undefined> {
  const [row] = await db.orm
    .select(view)
    .from(users)
    .where(and(sql`lower(${users.email}) = lower(${email})`, isNull(users.deletedAt)));
  return row;
}

/** The current user with this id. */
export async function get(db: Db, id: string): Promise<UserView | undefined> {
  const [row] = await db.orm
    .select(view)
    .from(users)
    .where(and(eq(users.id, id), isNull(users.deletedAt)));
  return row;
}

/** A provider's current users, or (providerId null) the operators; by name. */
export function list(db: Db, providerId: string | null): Promise<UserView[]> {
  return db.orm
    .select(view)
    .from(users)
    .where(
      and(providerId === null ? isNull(users.providerId) : eq(users.providerId, providerId), isNull(users.deletedAt)),
    )
    .orderBy(asc(users.name), asc(users.email));
}

/** Removes a provider's user (providerId null: an operator); false when there is no such current user. */
export async function remove(db: Db, providerId: string | null, id: string): Promise<boolean> {
  const rows = await db.orm
    .update(users)
    .set({ deletedAt: sql`now()` })
    .where(
      and(
        eq(users.id, id),
        providerId === null ? isNull(users.providerId) : eq(users.providerId, providerId),
        isNull(users.deletedAt),
      ),
    )
    .returning({ id: users.id });
  return rows.length > 0;
}

/** Records a successful sign-in. */
export async function signedIn(db: Db, id: string): Promise<void> {
  await db.orm
    .update(users)
    .set({ lastSignInAt: sql`now()` })
    .where(eq(users.id, id));
}
