import type { AlertKind } from '../domain/admission-event.js';
import type { CancelsCode, DestinationCategory, StatusReasonCode } from '../domain/clinical.js';

/**
 * What a delivery channel needs to tell a person about an alert. SMS and email carry only the fields of
 * {@link NotifyPersonalisation}; webhooks carry the full {@link WebhookBody}.
 */

/** Personalisation sent to GOV.UK Notify templates: no name, NHS number, date of birth, ward or diagnosis. */
export interface NotifyPersonalisation {
  /** human words for the kind: "admitted to hospital", "discharged from hospital", ... */
  event: string;
  /** the alert kind: admission | discharge | death | cancellation | transfer */
  kind: AlertKind;
  /** the hospital's name */
  hospital: string;
  /** the provider's own client reference, or "" when none */
  client_reference: string;
  /** the one-time acknowledgement link */
  acknowledge_url: string;
}

/** The JSON body POSTed to a provider's webhook (CONTRACT.md "Webhook delivery"). */
export interface WebhookBody {
  id: string;
  type: AlertKind;
  alertId: string;
  admissionId: string;
  escalationStep: number;
  occurredAt: string;
  patient: {
    nhsNumber: string;
    familyName?: string;
    givenName?: string;
    dateOfBirth: string;
    reference?: string;
  };
  hospital: { odsCode: string; name: string };
  location?: { ward?: string; bed?: string };
  discharge?: { at?: string; method?: string; destination?: string; destinationCategory?: DestinationCategory };
  acknowledgeUrl: string;
  /**
   * on a `cancellation` only: what it cancels (an A11 admission, an A13 discharge, an alert about the wrong patient
   * after an identity correction, or a discharge alert replaced by a death alert)
   */
  cancels?: CancelsCode;
}

/**
 * The JSON body POSTed to OPERATOR_WEBHOOK_URL (signed like providers' webhooks). No patient data: the stay is
 * named by hospital and visit number, which operators use to find it.
 */
export type OperatorMessageBody = ReviewWaitingBody | FeedMessageBody;

/** `review-waiting`: an unmatched stay waits in the review queue (CONTRACT.md "Unmatched, never silent"). */
export interface ReviewWaitingBody {
  id: string;
  type: 'review-waiting';
  admissionId: string;
  hospital: { odsCode: string; name: string };
  visitNumber: string;
  statusReasonCode: StatusReasonCode | null;
  statusReason: string | null;
  /** when the stay entered the review queue */
  since: string | null;
  /** where an operator acts on it: `GET /v1/review` */
  reviewUrl: string;
}

/**
 * `feed-silent` / `feed-resumed`: a hospital's feed went silent or came back (CONTRACT.md "Feeds"). No patient data.
 */
export interface FeedMessageBody {
  id: string;
  type: 'feed-silent' | 'feed-resumed';
  hospital: { id: string; odsCode: string; name: string };
  /** the start of the silence: the last sign of life before it (its last message, or its registration) */
  silentSince: string;
  /** the last message the watcher knew of when it decided; on `feed-resumed`, one that ended the silence */
  lastMessageAt: string | null;
  /** the threshold in force when it decided */
  silenceAlertSeconds: number;
  /** where an operator looks: `GET /v1/hospitals/{id}/feed` */
  feedUrl: string;
}

/** Personalisation of the operator email template (NOTIFY_OPERATOR_TEMPLATE_ID). */
export interface OperatorEmailPersonalisation {
  subject: string;
  message: string;
  link: string;
}

/** Personalisation of the portal sign-in email template (NOTIFY_SIGN_IN_TEMPLATE_ID). */
export interface SignInEmailPersonalisation {
  /** the 6-digit code */
  code: string;
  /** how long it is valid, in minutes ("10") */
  minutes: string;
}

/** The result of one send attempt that did not throw. */
export type SendOutcome =
  /** accepted by Notify (2xx) or the receiver (2xx): never send again */
  | { status: 'sent'; providerId?: string }
  /** permanently refused (Notify 400: bad number, bad template): record it and move on to the next channel */
  | { status: 'rejected'; reason: string }
  /** the channel is switched off (no NOTIFY_API_KEY): record it and move on */
  | { status: 'disabled'; reason: string };

/** A transient failure (HTTP 429, 5xx, timeout, connection refused): the caller retries with backoff. */
export class RetryableDeliveryError extends Error {
  override readonly name = 'RetryableDeliveryError';
}

/**
 * A configuration failure (Notify 403: bad API key; a template that does not exist): retrying cannot help,
 * operators must fix configuration. Logged at error level once per occurrence and recorded on the delivery.
 */
export class ChannelConfigurationError extends Error {
  override readonly name = 'ChannelConfigurationError';
}

/**
 * What operators see of the Notify channel in `GET /health/ready` (field `notify`): whether the key and the
 * templates were accepted the last time Notify was asked. Never affects readiness (CONTRACT.md: ready means
 * PostgreSQL and Temporal answer); it is there so a bad key is seen at once, before anyone misses an alert.
 */
export interface NotifyHealth {
  /**
   * `disabled`: no NOTIFY_API_KEY; `ok`: Notify accepted the key (and the templates) last time it was asked;
   * `misconfigured`: Notify refused the key or a template (403 / unknown template), operators must act;
   * `unreachable`: Notify did not answer (timeouts, 5xx); `unknown`: not asked yet.
   */
  status: 'disabled' | 'ok' | 'misconfigured' | 'unreachable' | 'unknown';
  /** why, in words an operator can act on (never the key) */
  detail?: string;
  /** when this was last observed (ISO 8601) */
  checkedAt?: string;
}

/** SMS and email through GOV.UK Notify. */
export interface NotifySender {
  /** false when no NOTIFY_API_KEY is configured */
  readonly enabled: boolean;
  /** the latest observation of the channel's configuration: from sends, and from {@link NotifySender.check} */
  health(): NotifyHealth;
  /**
   * Asks Notify whether the key and the configured templates are accepted (GET /v2/template/{id}), updates
   * {@link NotifySender.health} and returns it. Never throws.
   */
  check(): Promise<NotifyHealth>;
  sendSms(phoneNumber: string, personalisation: NotifyPersonalisation, reference: string): Promise<SendOutcome>;
  sendEmail(email: string, personalisation: NotifyPersonalisation, reference: string): Promise<SendOutcome>;
  /** an email to the operators with the operator template (`disabled` when NOTIFY_OPERATOR_TEMPLATE_ID is unset) */
  sendOperatorEmail(
    email: string,
    personalisation: OperatorEmailPersonalisation,
    reference: string,
  ): Promise<SendOutcome>;
  /** a portal sign-in code (`disabled` when NOTIFY_SIGN_IN_TEMPLATE_ID is unset) */
  sendSignInEmail(email: string, personalisation: SignInEmailPersonalisation, reference: string): Promise<SendOutcome>;
  /**
   * Asks Notify whether a notification with this `reference` was already accepted (used before retrying a
   * send whose outcome is unknown, so a crash between Notify's 201 and our commit never sends twice).
   * Null also when Notify cannot answer the query (400/404/405): then the caller sends, preferring a possible
   * duplicate to an alert nobody receives. Throws {@link ChannelConfigurationError} on 401/403 and
   * {@link RetryableDeliveryError} when Notify is unavailable (429, 5xx, timeouts).
   */
  findByReference(reference: string, type: 'sms' | 'email'): Promise<{ id: string } | null>;
}

/** Signed webhooks to providers' systems. */
export interface WebhookSender {
  send(url: string, secret: string, body: WebhookBody | OperatorMessageBody): Promise<SendOutcome>;
}
