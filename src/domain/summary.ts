import type { AdmissionEvent, EventSummary } from './admission-event.js';

/** The patient-free summary of a stored event that travels to the workflow (never NHS number, name or DOB). */
export function toEventSummary(messageId: string, ev: AdmissionEvent, receivedAt: Date | string): EventSummary {
  const s: EventSummary = {
    messageId,
    messageControlId: ev.messageControlId,
    trigger: ev.trigger,
    kind: ev.kind,
    eventAt: ev.eventAt,
    messageAt: ev.messageAt,
    receivedAt: typeof receivedAt === 'string' ? receivedAt : receivedAt.toISOString(),
  };
  if (ev.patientClass) s.patientClass = ev.patientClass;
  if (ev.location) s.location = ev.location;
  if (ev.admittedAt) s.admittedAt = ev.admittedAt;
  if (ev.dischargedAt) s.dischargedAt = ev.dischargedAt;
  if (ev.discharge) s.discharge = ev.discharge;
  if (ev.patient.deceased) s.deceased = true;
  if (ev.patient.deceasedAt) s.deceasedAt = ev.patient.deceasedAt;
  if (ev.expectedDischargeDate) s.expectedDischargeDate = ev.expectedDischargeDate;
  return s;
}

/** Workflow id of a spell: `admission-<hospital ODS>-<visit number>` (CONTRACT.md "Operators"). */
export function admissionWorkflowId(hospitalOds: string, visitNumber: string): string {
  return `admission-${hospitalOds}-${visitNumber}`;
}
