/**
 * Portal sign-in codes (`sign_in_codes`, CONTRACT.md "Web portal"): 6 digits, stored hashed, valid for a while, a few
 * tries. A new code replaces the user's earlier ones; a code works once.
 */
import { and, desc, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import { transaction, type Db } from './client.js';
import { signInCodes } from './schema.js';

/** Stores a new code for the user (its hash) and voids the user's earlier unused codes; returns its id. */
export function issue(db: Db, input: { userId: string; codeHash: string; validSeconds: number }): Promise<string> {
  return transaction(db, async (tx) => {
    await tx.orm
      .update(signInCodes)
      .set({ usedAt: sql`now()` })
      .where(and(eq(signInCodes.userId, input.userId), isNull(signInCodes.usedAt)));
    const [row] = await tx.orm
      .insert(signInCodes)
      .values({
        userId: input.userId,
        codeHash: input.codeHash,
        expiresAt: sql`now() + make_interval(secs => ${input.validSeconds})`,
      })
      .returning({ id: signInCodes.id });
    return row!.id;
  });
}

/** What one try of a code came to. */
export type CodeCheck = 'ok' | 'wrong' | 'none';

/**
 * One try at the user's current code: counted first (atomically, so parallel tries cannot exceed `maxTries`), then
 * compared with `matches`; a match uses the code up. `none` when the user has no unused, unexpired code with tries
 * left.
 */
export function attempt(
  db: Db,
  input: { userId: string; maxTries: number; matches: (codeHash: string) => boolean },
): Promise<CodeCheck> {
  return transaction(db, async (tx) => {
    const [current] = await tx.orm
      .select({ id: signInCodes.id })
      .from(signInCodes)
      .where(
        and(
          eq(signInCodes.userId, input.userId),
          isNull(signInCodes.usedAt),
          gt(signInCodes.expiresAt, sql`now()`),
          lt(signInCodes.attempts, input.maxTries),
        ),
      )
      .orderBy(desc(signInCodes.createdAt))
      .limit(1)
      .for('update');
    if (!current) return 'none';
    const [row] = await tx.orm
      .update(signInCodes)
      .set({ attempts: sql`${signInCodes.attempts} + 1` })
      .where(eq(signInCodes.id, current.id))
      .returning({ codeHash: signInCodes.codeHash });
    if (!row || !input.matches(row.codeHash)) return 'wrong';
    await tx.orm
      .update(signInCodes)
      .set({ usedAt: sql`now()` })
      .where(eq(signInCodes.id, current.id));
    return 'ok';
  });
}
