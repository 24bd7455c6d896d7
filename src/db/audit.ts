/** The audit trail (`audit_events`): who did what to which entity, appended, never changed. */
import { desc, eq } from 'drizzle-orm';
import type { Db } from './client.js';
import { auditEvents } from './schema.js';

export type AuditEvent = typeof auditEvents.$inferSelect;

/** Appends one event. Pass the transaction that makes the change, so the change and its record commit together. */
export async function record(
  db: Db,
  event: { actor: string; action: string; entityType: string; entityId: string; details?: Record<string, unknown> },
): Promise<void> {
  await db.orm.insert(auditEvents).values({
    actor: event.actor,
    action: event.action,
    entityType: event.entityType,
    entityId: event.entityId,
    details: event.details ?? null,
  });
}

/** Events newest first, optionally of one action, a page at a time. */
export function list(db: Db, filter: { action?: string; limit: number; offset: number }): Promise<AuditEvent[]> {
  return db.orm
    .select()
    .from(auditEvents)
    .where(filter.action !== undefined ? eq(auditEvents.action, filter.action) : undefined)
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(filter.limit)
    .offset(filter.offset);
}
