/**
 * Bearer keys (CONTRACT.md "Authentication"): the operator's ADMIN_TOKEN, hospital keys, provider keys.
 * Keys are random, shown once, and stored as SHA-256 hashes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../hash.js';
import type { NextFunction, Request, Response } from 'express';
import type { Sql } from '../db/client.js';
import { HttpProblem } from './problem.js';

export type Principal =
  | { kind: 'admin' }
  | { kind: 'hospital'; hospitalId: string; odsCode: string }
  | { kind: 'provider'; providerId: string; odsCode: string };

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** How an API key is stored. */
export const hashKey = sha256Hex;

/** A new API key: a recognisable prefix and 256 random bits. */
export function newApiKey(kind: 'hospital' | 'provider'): string {
  return `aa_${kind === 'hospital' ? 'h' : 'p'}_${randomBytes(32).toString('base64url')}`;
}

function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

export function bearer(req: Request): string | undefined {
  const h = req.get('authorization');
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m?.[1];
}

/** Resolves the caller, or undefined for a missing or unknown key. */
export async function resolvePrincipal(sql: Sql, adminToken: string | undefined, key: string | undefined) {
  if (!key) return undefined;
  if (adminToken && safeEqual(key, adminToken)) return { kind: 'admin' } as Principal;
  const [row] = await sql<
    { kind: 'hospital' | 'provider'; hospital_id: string | null; provider_id: string | null; ods: string }[]
  >`
    select k.kind, k.hospital_id, k.provider_id, coalesce(h.ods_code, p.ods_code) as ods
    from api_keys k left join hospitals h on h.id = k.hospital_id left join providers p on p.id = k.provider_id
    where k.key_hash = ${hashKey(key)} and k.revoked_at is null`;
  if (!row) return undefined;
  return row.kind === 'hospital'
    ? ({ kind: 'hospital', hospitalId: row.hospital_id!, odsCode: row.ods } as Principal)
    : ({ kind: 'provider', providerId: row.provider_id!, odsCode: row.ods } as Principal);
}

export const unauthorized = () =>
  new HttpProblem(401, 'Unauthorized', 'A valid API key is required: Authorization: Bearer <key>');

/**
 * Express middleware: 401 unless the key is known; the principal is put on the request. When PostgreSQL cannot be
 * asked, 503 (retry later), never a 500 or a 401 that would make a client drop a good key.
 */
export function authenticate(sql: Sql, adminToken: string | undefined) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    let principal: Principal | undefined;
    try {
      principal = await resolvePrincipal(sql, adminToken, bearer(req));
    } catch {
      throw new HttpProblem(503, 'Service unavailable', 'The service cannot check keys just now; retry later');
    }
    if (!principal) throw unauthorized();
    req.principal = principal;
    next();
  };
}

export function principal(req: Request): Principal {
  if (!req.principal) throw unauthorized();
  return req.principal;
}

export function requireAdmin(req: Request): void {
  if (principal(req).kind !== 'admin') throw new HttpProblem(403, 'Forbidden', 'Only the operator may do this');
}

/**
 * The operator, or the provider itself. Another provider's id is 404, never 403 (existence is not revealed);
 * a hospital key is 403.
 */
export function requireProviderAccess(req: Request, providerId: string): void {
  const p = principal(req);
  if (p.kind === 'admin') return;
  if (p.kind === 'provider') {
    if (p.providerId === providerId) return;
    throw new HttpProblem(404, 'Not found', 'provider not found');
  }
  throw new HttpProblem(403, 'Forbidden', 'A hospital key cannot do this');
}
