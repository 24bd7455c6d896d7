/** The one-time acknowledgement links `/a/{token}`: the pages, backed by ack_tokens and the acknowledgement path. */
import type { Router } from 'express';
import { acknowledge } from '../../alerts/acknowledge.js';
import { sha256Hex as hashToken } from '../../hash.js';
import type { AckOutcome, AlertKind, AlertStatus } from '../../domain/admission-event.js';
import { adviceWords, allowedOutcomes, defaultOutcome, meaningOfAlert } from '../../domain/alert-text.js';
import type { CancelsCode, DestinationCategory } from '../../domain/clinical.js';
import type { AppDeps } from '../app.js';
import { createAckPagesRouter, type AckPageAlert, type TokenLookup } from '../pages/ack-pages.js';

interface TokenRow {
  alert_id: string;
  expires_at: Date;
  used_at: Date | null;
  kind: AlertKind;
  alert_key: string;
  status: AlertStatus;
  occurred_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  outcome: AckOutcome | null;
  hospital_name: string | null;
  hospital_ods: string;
  provider_name: string;
  reference: string | null;
  cancels: CancelsCode | null;
  destination_category: DestinationCategory | null;
  family_name: string | null;
  given_name: string | null;
}

/** `M S` from the provider's own registration of the client (given name, family name); undefined without either. */
export function initials(givenName: string | null, familyName: string | null): string | undefined {
  const letters = [givenName, familyName]
    .map((n) => n?.trim().charAt(0).toUpperCase() ?? '')
    .filter((c) => c !== '');
  return letters.length === 0 ? undefined : letters.join(' ');
}

export function createAckLinkPages(deps: AppDeps): Router {
  const { sql } = deps;

  async function find(token: string): Promise<TokenRow | undefined> {
    const [row] = await sql<TokenRow[]>`
      select t.alert_id, t.expires_at, t.used_at, a.kind, a.alert_key, a.status, a.occurred_at, a.acknowledged_at, a.acknowledged_by,
        a.outcome, h.name as hospital_name, ad.hospital_ods, p.name as provider_name, c.reference, a.cancels,
        a.destination_category, c.family_name, c.given_name
      from ack_tokens t
      join alerts a on a.id = t.alert_id
      join admissions ad on ad.id = a.admission_id
      join providers p on p.id = a.provider_id
      left join hospitals h on h.ods_code = ad.hospital_ods
      left join clients c on c.id = a.client_id
      where t.token_hash = ${hashToken(token)}`;
    return row;
  }

  function pageAlert(r: TokenRow): AckPageAlert {
    const meaning = meaningOfAlert(r);
    const who = initials(r.given_name, r.family_name);
    const advice = adviceWords(r.kind, meaning);
    return {
      kind: r.kind,
      hospitalName: r.hospital_name ?? r.hospital_ods,
      ...(r.reference ? { clientReference: r.reference } : {}),
      ...(who ? { clientInitials: who } : {}),
      occurredAt: r.occurred_at.toISOString(),
      providerName: r.provider_name,
      status: r.status,
      defaultOutcome: defaultOutcome(r.kind, meaning),
      allowedOutcomes: allowedOutcomes(r.kind, meaning),
      ...(meaning.cancels ? { cancels: meaning.cancels } : {}),
      ...(meaning.destinationCategory ? { destinationCategory: meaning.destinationCategory } : {}),
      ...(advice ? { advice } : {}),
    };
  }

  function state(r: TokenRow | undefined): TokenLookup {
    if (!r) return { state: 'unknown' };
    if (r.used_at || r.status === 'acknowledged') {
      return {
        state: 'used',
        alert: pageAlert(r),
        ...(r.acknowledged_at ? { acknowledgedAt: r.acknowledged_at.toISOString() } : {}),
        ...(r.acknowledged_by ? { acknowledgedBy: r.acknowledged_by } : {}),
        ...(r.outcome ? { outcome: r.outcome } : {}),
      };
    }
    if (r.expires_at.getTime() <= Date.now()) return { state: 'expired' };
    return { state: 'valid', alert: pageAlert(r) };
  }

  return createAckPagesRouter({
    csrfSecret: deps.csrfSecret,
    publicBaseUrl: deps.config.publicBaseUrl,
    onError: (err) => deps.logger.error({ err: (err as Error).message }, 'acknowledgement page failed'),
    lookup: async (token) => state(await find(token)),
    async acknowledge(token, input) {
      // claim the token first: it works once, whoever else races for it
      const claimed = await sql<{ alert_id: string }[]>`
        update ack_tokens set used_at = now()
        where token_hash = ${hashToken(token)} and used_at is null and expires_at > now() returning alert_id`;
      const row = await find(token);
      if (claimed.length === 0 || !row) return state(row);
      if (row.status !== 'acknowledged') {
        try {
          await acknowledge(deps, { alertId: row.alert_id, by: input.by, outcome: input.outcome, actor: 'link' });
        } catch (err) {
          // nothing was recorded (Temporal or the database failed): give the link back so the coordinator can retry
          await sql`update ack_tokens set used_at = null where token_hash = ${hashToken(token)}`.catch(() => undefined);
          throw err;
        }
      }
      return state(await find(token));
    },
  });
}
