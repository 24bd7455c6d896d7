/** The audit trail (`audit_events`): who did what to which entity, appended, never changed. */
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
