/**
 * Starting or signalling a stay's workflow (signalWithStart): one place for the workflow input, the search
 * attributes a new run starts with and the task queue, used by the relay and by operator actions.
 */
import type { Client } from '@temporalio/client';
import type { EventSummary } from '../domain/admission-event.js';
import {
  ADMISSION_WORKFLOW,
  admissionEventSignal,
  rematchSignal,
  closeSignal,
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

/**
 * The settings a stay's workflow starts with, from configuration (defaults as the relay's): what the API and the
 * portal use when an operator's action starts a stay's workflow again.
 */
export function staySettingsOf(config: {
  temporal?: { taskQueue: string } | undefined;
  admissionLingerSeconds?: number | undefined;
  reviewAlertSeconds?: number | undefined;
  maxStaySeconds?: number | undefined;
  workflowHistoryLimit?: number | undefined;
}): StayStartSettings {
  return {
    taskQueue: config.temporal?.taskQueue ?? 'admission-alerts',
    lingerSeconds: config.admissionLingerSeconds ?? 7 * 24 * 3600,
    ...(config.reviewAlertSeconds !== undefined ? { reviewAlertSeconds: config.reviewAlertSeconds } : {}),
    ...(config.maxStaySeconds !== undefined ? { maxStaySeconds: config.maxStaySeconds } : {}),
    ...(config.workflowHistoryLimit !== undefined ? { historyLimit: config.workflowHistoryLimit } : {}),
  };
}

export interface StayRef {
  admissionId: string;
  hospitalOds: string;
  visitNumber: string;
  workflowId: string;
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
  const call = () =>
    client.workflow.signalWithStart(ADMISSION_WORKFLOW, {
      ...startOptions(settings, stay),
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
