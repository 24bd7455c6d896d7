/** The one-time acknowledgement links `/a/{token}`: the pages, backed by ack_tokens and the acknowledgement path. */
import type { Router } from 'express';
import { acknowledgeAlert } from '../../acknowledgement/acknowledge-alert.js';
import * as alerts from '../../db/alerts.js';
import * as rateLimits from '../../db/rate-limits.js';
import { sha256Hex as hashToken } from '../../hash.js';
import { adviceWords, allowedOutcomes, defaultOutcome, meaningOfAlert } from '../../domain/alert-text.js';
import type { AppDeps } from '../app.js';
import { createAckPagesRouter, type AckPageAlert, type AckPageLimiter, type TokenLookup } from '../pages/ack-pages.js';

/** `M S` from the provider's own registration of the client (given name, family name); undefined without either. */
export function initials(givenName: string | null, familyName: string | null): string | undefined {
  const letters = [givenName, familyName].map((n) => n?.trim().charAt(0).toUpperCase() ?? '').filter((c) => c !== '');
  return letters.length === 0 ? undefined : letters.join(' ');
}

export function createAckLinkPages(deps: AppDeps): Router {
  const { db } = deps;

  const find = (token: string) => alerts.findLinkToken(db, hashToken(token));

  function pageAlert(r: alerts.LinkToken): AckPageAlert {
    const meaning = meaningOfAlert(r);
    const who = initials(r.givenName, r.familyName);
    const advice = adviceWords(r.kind, meaning);
    return {
      kind: r.kind,
      hospitalName: r.hospitalName ?? r.hospitalOds,
      ...(r.reference ? { clientReference: r.reference } : {}),
      ...(who ? { clientInitials: who } : {}),
      occurredAt: r.occurredAt.toISOString(),
      providerName: r.providerName,
      status: r.status,
      defaultOutcome: defaultOutcome(r.kind, meaning),
      allowedOutcomes: allowedOutcomes(r.kind, meaning),
      ...(meaning.cancels ? { cancels: meaning.cancels } : {}),
      ...(meaning.destinationCategory ? { destinationCategory: meaning.destinationCategory } : {}),
      ...(advice ? { advice } : {}),
    };
  }

  function state(r: alerts.LinkToken | undefined): TokenLookup {
    if (!r) return { state: 'unknown' };
    if (r.usedAt || r.status === 'acknowledged') {
      return {
        state: 'used',
        alert: pageAlert(r),
        ...(r.acknowledgedAt ? { acknowledgedAt: r.acknowledgedAt.toISOString() } : {}),
        ...(r.acknowledgedBy ? { acknowledgedBy: r.acknowledgedBy } : {}),
        ...(r.outcome ? { outcome: r.outcome } : {}),
      };
    }
    if (r.expiresAt.getTime() <= Date.now()) return { state: 'expired' };
    return { state: 'valid', alert: pageAlert(r) };
  }

  /**
   * The pages' limits counted in PostgreSQL (`rate_limits`, fixed windows), shared by every API process. A token is
   * counted under its hash (`ack-token:<sha256>`), never stored as it is; an address as `ack-ip:<ip>`.
   */
  const limiter: AckPageLimiter = async (keys, windowMs) => {
    let retryAfterS = 0;
    for (const { key, max } of keys) {
      const stored = key.startsWith('token:') ? `ack-token:${hashToken(key.slice('token:'.length))}` : `ack-${key}`;
      const count = await rateLimits.hit(db, stored, windowMs);
      if (count.hits > max) retryAfterS = Math.max(retryAfterS, count.retryAfterS);
    }
    return retryAfterS > 0 ? { allowed: false, retryAfterS } : { allowed: true };
  };

  return createAckPagesRouter({
    csrfSecret: deps.csrfSecret,
    limiter,
    publicBaseUrl: deps.config.publicBaseUrl,
    onError: (err) => deps.logger.error({ err: (err as Error).message }, 'acknowledgement page failed'),
    lookup: async (token) => state(await find(token)),
    async acknowledge(token, input) {
      // claim the token first: it works once, whoever else races for it
      const claimed = await alerts.claimLinkToken(db, hashToken(token));
      const row = await find(token);
      if (!claimed || !row) return state(row);
      if (row.status !== 'acknowledged') {
        try {
          await acknowledgeAlert(deps, { alertId: row.alertId, by: input.by, outcome: input.outcome, actor: 'link' });
        } catch (err) {
          // nothing was recorded (Temporal or the database failed): give the link back so the coordinator can retry
          await alerts.releaseLinkToken(db, hashToken(token)).catch(() => undefined);
          throw err;
        }
      }
      return state(await find(token));
    },
  });
}
