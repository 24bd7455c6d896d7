/**
 * Starting or signalling a stay's workflow (signalWithStart): one place for the workflow input, the search
 * attributes a new run starts with, what the Temporal UI shows of it (static summary and details) and the task
 * queue, used by the relay and by operator actions.
 */
import type { Client } from '@temporalio/client';
import type { EventSummary } from '../domain/admission-event.js';
import {
  ADMISSION_WORKFLOW,
  admissionEventSignal,
  rematchSignal,
  closeSignal,
  resendSignal,
  type AdmissionWorkflowInput,
} from '../../workflows/definitions.js';
import { AdmissionStatusKey, HospitalOdsKey } from './search-attributes.js';

export interface StayStartSettings {
  taskQueue: string;
  lingerSeconds: number;
  reviewAlertSeconds?: number;
  maxStaySeconds?: number;
  historyLimit?: number;
}

export interface StayRef {
  admissionId: string;
  hospitalOds: string;
  visitNumber: string;
  workflowId: string;
  /** when the patient was admitted (PV1-44, else the admit event's time), when known: for the static summary */
  admittedAt?: string;
}

/** A stay's reference from its admission row (`db/admissions.stayRef`). */
export function stayRefOf(adm: {
  id: string;
  hospitalOds: string;
  visitNumber: string;
  workflowId: string;
  admittedAt?: Date | null;
}): StayRef {
  return {
    admissionId: adm.id,
    hospitalOds: adm.hospitalOds,
    visitNumber: adm.visitNumber,
    workflowId: adm.workflowId,
    ...(adm.admittedAt ? { admittedAt: adm.admittedAt.toISOString() } : {}),
  };
}

/**
 * The static summary the Temporal UI shows for a run: `Hospital RX1 · visit 123 · admitted 2026-11-22T09:20:00Z`.
 * Hospital, visit number and admission time only: never patient data.
 */
export function staySummary(stay: Pick<StayRef, 'hospitalOds' | 'visitNumber' | 'admittedAt'>): string {
  const admitted = stay.admittedAt ? `admitted ${instantOf(stay.admittedAt)}` : 'admission time not yet known';
  return `Hospital ${stay.hospitalOds} · visit ${stay.visitNumber} · ${admitted}`;
}

/** The static details (Markdown) of a run: what the workflow is, where the stay is in the API, how to close it. */
export function stayDetails(stay: StayRef): string {
  return [
    'Follows one hospital stay (spell) and alerts the home-care providers of its patient.',
    '',
    `- Admission: \`${stay.admissionId}\` (\`GET /v1/admissions/${stay.admissionId}\`)`,
    `- Hospital ${stay.hospitalOds}, visit number ${stay.visitNumber}`,
    `- Admitted: ${stay.admittedAt ? instantOf(stay.admittedAt) : 'not known when this run started'}`,
    "- Current details: the stay's status and its reason; per provider, each alert's step, contacts tried, next " +
      'escalation and acknowledgement.',
    `- To close the stay: Request Cancellation here, or \`POST /v1/admissions/${stay.admissionId}/close\`.`,
    '',
    'No patient data is kept in Temporal: who the patient is is in PostgreSQL only.',
  ].join('\n');
}

/** An ISO instant to the second (`2026-11-22T09:20:00Z`); anything unparseable as it is. */
function instantOf(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
}

function startOptions(settings: StayStartSettings, stay: StayRef) {
  const input: AdmissionWorkflowInput = {
    admissionId: stay.admissionId,
    hospitalOds: stay.hospitalOds,
    visitNumber: stay.visitNumber,
    lingerSeconds: settings.lingerSeconds,
    ...(settings.reviewAlertSeconds !== undefined ? { reviewAlertSeconds: settings.reviewAlertSeconds } : {}),
    ...(settings.maxStaySeconds !== undefined ? { maxStaySeconds: settings.maxStaySeconds } : {}),
    ...(settings.historyLimit !== undefined ? { historyLimit: settings.historyLimit } : {}),
  };
  return {
    workflowId: stay.workflowId,
    taskQueue: settings.taskQueue,
    args: [input] as [AdmissionWorkflowInput],
    typedSearchAttributes: [
      { key: HospitalOdsKey, value: stay.hospitalOds },
      { key: AdmissionStatusKey, value: 'received' },
    ],
    staticSummary: staySummary(stay),
    staticDetails: stayDetails(stay),
  };
}

/**
 * Hands an event to its stay's workflow, starting (or restarting) it when it is not running. `deadline` (epoch ms),
 * when given, is the gRPC deadline of the call (`connection.withDeadline`): past it the call fails, although
 * Temporal may still have taken the signal.
 */
export async function signalStayEvent(
  client: Client,
  settings: StayStartSettings,
  stay: StayRef,
  event: EventSummary,
  deadline?: number,
): Promise<void> {
  // a run started by this event shows when the patient was admitted, when the event says (PV1-44, or an admit's time)
  const admittedAt = stay.admittedAt ?? event.admittedAt ?? (event.kind === 'admit' ? event.eventAt : undefined);
  const call = () =>
    client.workflow.signalWithStart(ADMISSION_WORKFLOW, {
      ...startOptions(settings, { ...stay, ...(admittedAt ? { admittedAt } : {}) }),
      signal: admissionEventSignal,
      signalArgs: [event],
    });
  await (deadline === undefined ? call() : client.connection.withDeadline(deadline, call));
}

/** Asks the stay's workflow to match the stay again (an operator resolved its review item). */
export async function signalStayRematch(client: Client, settings: StayStartSettings, stay: StayRef): Promise<void> {
  await client.workflow.signalWithStart(ADMISSION_WORKFLOW, {
    ...startOptions(settings, stay),
    signal: rematchSignal,
    signalArgs: [],
  });
}

/** Asks the stay's workflow to close the stay (an operator's action), starting a run to do it when none is running. */
export async function signalStayClose(
  client: Client,
  settings: StayStartSettings,
  stay: StayRef,
  reason: string,
): Promise<void> {
  await client.workflow.signalWithStart(ADMISSION_WORKFLOW, {
    ...startOptions(settings, stay),
    signal: closeSignal,
    signalArgs: [{ reason }],
  });
}

/**
 * Asks the stay's workflow to resend an alert (`POST /v1/alerts/{id}/resend`): its ladder starts again from step 1.
 * Starts a run to do it when none is running (it picks the alert up from PostgreSQL).
 */
export async function signalStayResend(
  client: Client,
  settings: StayStartSettings,
  stay: StayRef,
  req: { alertId: string; resend: number },
): Promise<void> {
  await client.workflow.signalWithStart(ADMISSION_WORKFLOW, {
    ...startOptions(settings, stay),
    signal: resendSignal,
    signalArgs: [req],
  });
}

/** How stays' workflows are started, from the configuration (the relay and the operator actions use the same). */
export function staySettingsOf(config: {
  temporal?: { taskQueue: string };
  admissionLingerSeconds?: number;
  reviewAlertSeconds?: number;
  maxStaySeconds?: number;
  workflowHistoryLimit?: number;
}): StayStartSettings {
  return {
    taskQueue: config.temporal?.taskQueue ?? 'admission-alerts',
    lingerSeconds: config.admissionLingerSeconds ?? 7 * 24 * 3600,
    ...(config.reviewAlertSeconds !== undefined ? { reviewAlertSeconds: config.reviewAlertSeconds } : {}),
    ...(config.maxStaySeconds !== undefined ? { maxStaySeconds: config.maxStaySeconds } : {}),
    ...(config.workflowHistoryLimit !== undefined ? { historyLimit: config.workflowHistoryLimit } : {}),
  };
}
