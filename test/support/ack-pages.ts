/**
 * Test doubles for the coordinator pages' router (src/http/pages/ack-pages.ts): an in-memory link store with the
 * contract's one-time, 72-hour links, and the router served on 127.0.0.1 port 0. Shared by the HTTP tests
 * (ack-pages.test.ts, unit) and the Chromium tests (ack-pages.int.test.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { AckOutcome } from '../../src/domain/admission-event.js';
import type { AckPageAlert, AckPageDeps, TokenLookup } from '../../src/http/pages/ack-pages.js';

export const LINK_LIFETIME_MS = 72 * 60 * 60 * 1000;

export const CSRF_SECRET = 'test-csrf-secret-0123456789abcdef';

interface StoredLink {
  alert: AckPageAlert;
  createdAt: number;
  used?: { at: string; by: string; outcome: AckOutcome };
}

/** An in-memory stand-in for the alerts repository: tokens are one-time and expire after 72 h (CONTRACT.md). */
export function memoryLinks(clock: () => Date) {
  const links = new Map<string, StoredLink>();
  const calls = { lookup: [] as string[], acknowledge: [] as { token: string; outcome: AckOutcome; by: string }[] };
  const state = (token: string): TokenLookup => {
    const link = links.get(token);
    if (!link) return { state: 'unknown' };
    if (link.used) {
      return {
        state: 'used',
        alert: link.alert,
        acknowledgedAt: link.used.at,
        acknowledgedBy: link.used.by,
        outcome: link.used.outcome,
      };
    }
    if (clock().getTime() - link.createdAt >= LINK_LIFETIME_MS) return { state: 'expired' };
    return { state: 'valid', alert: link.alert };
  };
  const deps: Pick<AckPageDeps, 'lookup' | 'acknowledge'> = {
    lookup: async (token) => {
      calls.lookup.push(token);
      return state(token);
    },
    acknowledge: async (token, input) => {
      calls.acknowledge.push({ token, ...input });
      const before = state(token);
      if (before.state !== 'valid') return before;
      const link = links.get(token);
      if (link) link.used = { at: clock().toISOString(), ...input };
      return state(token);
    },
  };
  const add = (alert: Partial<AckPageAlert> = {}, createdAt = clock().getTime()): string => {
    const token = randomBytes(16).toString('base64url');
    links.set(token, {
      createdAt,
      alert: {
        kind: 'admission',
        hospitalName: 'Leeds General Infirmary',
        clientReference: 'CL-0042',
        occurredAt: '2026-11-22T09:20:00Z',
        providerName: 'Kindly Home Care',
        status: 'open',
        defaultOutcome: 'visits-paused',
        ...alert,
      },
    });
    return token;
  };
  return { deps, calls, links, add };
}

export async function listen(router: express.Router): Promise<{ baseUrl: string; close: () => Promise<void> }> {
  const app = express();
  app.use('/a', router);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
