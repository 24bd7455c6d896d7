/** The activity interface the admission workflow sees (types only: workflows import nothing else from here). */
import type {
  AckOutcome,
  AdmissionStatus,
  AlertKind,
  AlertStatus,
  Channel,
  EventSummary,
  Location,
} from '../src/domain/admission-event.js';
import type { CancelsCode, DestinationCategory, StatusReasonCode } from '../src/domain/clinical.js';
import type { EscalationPolicy } from '../src/domain/escalation.js';

export interface ProviderMatch {
  providerId: string;
  providerOds: string;
  clientId: string;
}

export type MatchResult =
  | { status: 'matched'; providers: ProviderMatch[] }
  | { status: 'no-care-package' }
  /** `reasonCode` is missing only in results recorded before codes */
  | { status: 'unmatched'; reason: string; reasonCode?: StatusReasonCode };

/** An alert already in PostgreSQL, as a reopened stay's workflow picks it up again. */
export interface ExistingAlert {
  alertId: string;
  providerId: string;
  alertKey: string;
  kind: AlertKind;
  status: AlertStatus;
  withdrawnReason?: string;
  escalationStep: number;
  /** contact and channel pairs a delivery of this alert reached (deliveries `sent`) */
  reached: { contactId: string; channel: Channel }[];
}

export interface RaiseAlertInput {
  admissionId: string;
  providerId: string;
  clientId: string;
  alertKey: string;
  kind: AlertKind;
  messageId: string | undefined;
  occurredAt: string;
  /** cancellation alerts: what they cancel */
  cancels?: CancelsCode;
  /** discharge and death alerts: where the patient went */
  destinationCategory?: DestinationCategory;
}

/** A provider's contact as the Temporal UI names it: staff, never a patient (CONTRACT.md "Operators"). */
export interface ContactName {
  contactId: string;
  name: string;
  role: string;
}

export interface RaisedAlert {
  alertId: string;
  status: AlertStatus;
  policy: EscalationPolicy;
  /** the provider's contacts, for the summaries and details the Temporal UI shows (missing in older histories) */
  contacts?: ContactName[];
}

export interface DeliverInput {
  alertId: string;
  step: number;
  contactId: string;
  channel: Channel;
  /** the alert's resend number (`POST /v1/alerts/{id}/resend`); absent before the first resend */
  resend?: number;
}

export type DeliveryResult = 'sent' | 'rejected' | 'skipped' | 'failed';

export interface AdmissionRecord {
  admissionId: string;
  status: AdmissionStatus;
  statusReason?: string;
  statusReasonCode?: StatusReasonCode;
  admittedAt?: string;
  dischargedAt?: string;
  location?: Location;
  expectedDischargeDate?: string;
  onLeave: boolean;
}

export interface AcknowledgeInput {
  alertId: string;
  by: string;
  outcome?: AckOutcome;
  /** the portal user who acknowledges (alerts.acknowledged_by_user_id); the workflow passes it through unread */
  userId?: string;
}

export interface AlertAck {
  id: string;
  status: AlertStatus;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  outcome: string | null;
}

export interface AdmissionActivities {
  /** `match`: also match the stay, as {@link matchProviders} does, in the same call (one round trip fewer) */
  openAdmission(input: {
    admissionId: string;
    match?: boolean;
  }): Promise<{ priorEvents: EventSummary[]; alerts: ExistingAlert[]; match?: MatchResult }>;
  matchProviders(input: { admissionId: string }): Promise<MatchResult>;
  recordAdmission(input: AdmissionRecord): Promise<void>;
  raiseAlert(input: RaiseAlertInput): Promise<RaisedAlert>;
  deliver(input: DeliverInput): Promise<DeliveryResult>;
  recordDeliveryFailure(input: DeliverInput & { reason: string }): Promise<void>;
  markUnacknowledged(input: { alertId: string }): Promise<void>;
  /** withdraws an alert that is not already withdrawn (an acknowledged one too: its acknowledgement is kept) */
  withdrawAlert(input: { alertId: string; reason: string }): Promise<void>;
  /** a withdrawn alert is open again (A13 undid the discharge that superseded it); returns its policy */
  reopenAlert(input: { alertId: string; providerId: string }): Promise<RaisedAlert>;
  acknowledgeAlert(input: AcknowledgeInput): Promise<AlertAck>;
  /**
   * An operator or the provider asked for the alert again: an open or unacknowledged alert is open at step 0 again
   * (its ladder starts from step 1); returns its status now (acknowledged or withdrawn meanwhile: nothing restarts).
   */
  restartAlert(input: { alertId: string; providerId: string }): Promise<RaisedAlert>;
  /**
   * True when the stay's patient (the NHS number it is matched on) has a newer stay, at any hospital, that is open
   * (admitted later than this one, not discharged): CONTRACT.md "Readmission".
   */
  findNewerStay(input: { admissionId: string }): Promise<boolean>;
  /**
   * Tells the operator contacts once that this stay waits in the review queue (`review-waiting`), unless it was
   * resolved meanwhile or is no longer unmatched. Idempotent.
   */
  notifyReviewWaiting(input: { admissionId: string }): Promise<void>;
}
