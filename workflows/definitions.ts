/** Signal, update and query definitions of the admission workflow, shared with the client side. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AcknowledgeInput, AlertAck } from '../activities/types.js';
import type { AdmissionStatus, EventSummary } from '../src/domain/admission-event.js';

export interface AdmissionWorkflowInput {
  admissionId: string;
  hospitalOds: string;
  visitNumber: string;
  /** how long a finished stay waits for late events before the workflow completes */
  lingerSeconds: number;
}

export interface AdmissionView {
  status: AdmissionStatus;
  events: number;
  alerts: { alertId: string; providerId: string; kind: string; status: string; step: number }[];
}

export const ADMISSION_WORKFLOW = 'admissionWorkflow';
export const admissionEventSignal = defineSignal<[EventSummary]>('admissionEvent');
export const acknowledgeUpdate = defineUpdate<AlertAck, [AcknowledgeInput]>('acknowledge');
export const admissionStateQuery = defineQuery<AdmissionView>('state');
