/** Signal, update and query definitions of the admission workflow, shared with the client side. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AcknowledgeInput, AlertAck } from '../activities/types.js';
import type { AdmissionStatus, EventSummary } from '../src/domain/admission-event.js';
import type { StatusReasonCode } from '../src/domain/clinical.js';
import type { StaySnapshot } from './stay-state.js';

export interface AdmissionWorkflowInput {
  admissionId: string;
  hospitalOds: string;
  visitNumber: string;
  /** how long a finished stay waits for late events before the workflow completes */
  lingerSeconds: number;
  /** how long an unmatched stay waits in the review queue before the operators are told (default 30 min) */
  reviewAlertSeconds?: number;
  /** the longest stay followed: with no discharge by then the stay is closed (`stay-expired`; default 100 days) */
  maxStaySeconds?: number;
  /** a run continues as new past this many history events (default 10,000; Temporal may suggest it earlier) */
  historyLimit?: number;
  /** the state a previous run handed over (continue-as-new) */
  carried?: StaySnapshot;
}

export interface AdmissionView {
  status: AdmissionStatus;
  /** why the stay is as it is (unmatched, newer stay open, closed), as a code; null when the status needs none */
  statusReasonCode: StatusReasonCode | null;
  events: number;
  alerts: { alertId: string; providerId: string; kind: string; status: string; step: number }[];
}

export const ADMISSION_WORKFLOW = 'admissionWorkflow';
export const admissionEventSignal = defineSignal<[EventSummary]>('admissionEvent');
export const acknowledgeUpdate = defineUpdate<AlertAck, [AcknowledgeInput]>('acknowledge');
/** An operator resolved the stay's review item (matched it to a client): match it again. */
export const rematchSignal = defineSignal('rematch');
/** An operator closes the stay (`POST /v1/admissions/{id}/close`): `closed`, `closed-by-operator`. */
export const closeSignal = defineSignal<[{ reason: string }]>('close');
/** `POST /v1/alerts/{id}/resend`: the alert's `resend`-th resend (alerts.resend_count after it was counted). */
export interface ResendRequest {
  alertId: string;
  resend: number;
}
/** An operator or the provider resends an alert: its ladder starts again from step 1 with new links. */
export const resendSignal = defineSignal<[ResendRequest]>('resend');
export const admissionStateQuery = defineQuery<AdmissionView>('state');
