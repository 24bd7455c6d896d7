/**
 * Bearer keys (CONTRACT.md "Authentication"): the operator's ADMIN_TOKEN, hospital keys, provider keys.
 * Keys are random, shown once, and stored as SHA-256 hashes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../hash.js';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import * as apiKeys from '../db/api-keys.js';
import * as rateLimits from '../db/rate-limits.js';
import type { Db } from '../db/client.js';
import { createTtlCache } from '../ttl-cache.js';
import { HttpProblem, RefusedAccess } from './problem.js';

export type Principal =
  | { kind: 'admin' }
  | { kind: 'hospital'; hospitalId: string; odsCode: string }
  | { kind: 'provider'; providerId: string; odsCode: string };

/**
 * Why a request has no caller: no (or an unknown) key, PostgreSQL could not be asked, or its address is throttled
 * after too many failed authentications ({@link AUTH_FAILURE_LIMIT}).
 */
export type AuthFailure = 'unknown-key' | 'unavailable' | 'throttled';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
    authFailure?: AuthFailure;
    /** with `authFailure: 'throttled'`: seconds until the address may try again (`Retry-After`) */
    retryAfterS?: number;
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

/**
 * How long a hospital key, once found, is trusted without asking PostgreSQL again: one query less per message on
 * the ingest routes. (There is no API to revoke a key; one revoked in the database stops working within this time.)
 */
export const HOSPITAL_KEY_CACHE_MS = 10_000;

/** Resolves a bearer key to its caller: undefined for a missing or unknown key; throws when PostgreSQL cannot be asked. */
export type KeyResolver = (key: string | undefined) => Promise<Principal | undefined>;

/** The one key resolver: the operator's token, else a key in `api_keys` (hospital keys remembered for a while). */
export function createKeyResolver(deps: { db: Db; adminToken: string | undefined }): KeyResolver {
  const hospitalKeys = createTtlCache<string, Principal | undefined>({
    ttlMs: HOSPITAL_KEY_CACHE_MS,
    maxEntries: 1000,
  });
  const lookUp = (key: string) => apiKeys.ownerOf(deps.db, hashKey(key));
  return async (key) => {
    if (!key) return undefined;
    if (deps.adminToken && safeEqual(key, deps.adminToken)) return { kind: 'admin' };
    return hospitalKeys.get(key, lookUp, (p) => p?.kind === 'hospital');
  };
}

export const unauthorized = () =>
  new HttpProblem(401, 'Unauthorized', 'A valid API key is required: Authorization: Bearer <key>');

/**
 * Failed authentications (a missing or unknown key) from one address: the `max`th within `windowMs` blocks the
 * address for `blockMs`, whatever key it then sends (CONTRACT.md "Security defaults"). Counted in PostgreSQL
 * (`rate_limits`, key `auth-fail:<ip>`), so every API process sees the same count.
 */
export const AUTH_FAILURE_LIMIT = { windowMs: 60_000, max: 20, blockMs: 60_000 } as const;

/** The `rate_limits` key counting an address's failed authentications. */
export const authFailureKey = (ip: string | undefined) => `auth-fail:${ip ?? 'unknown'}`;

/**
 * Express middleware for every `/v1` route: resolves the bearer key once and puts the caller on the request
 * (`req.principal`), or why there is none (`req.authFailure`: no or unknown key, PostgreSQL could not be asked, or
 * the address is throttled after {@link AUTH_FAILURE_LIMIT} failures, with `req.retryAfterS`). A throttled address
 * is not even asked about its key. It never answers itself: each protocol answers a failure in its own format, at its
 * own point (the HL7 route as an AR ACK once it has read the message it echoes, the FHIR route as an
 * OperationOutcome, every other route as problem+json through {@link requireCaller}).
 */
export function authenticate(
  resolve: KeyResolver,
  logger: Logger,
  db: Db,
  limit: { windowMs: number; max: number; blockMs: number } = AUTH_FAILURE_LIMIT,
) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const failKey = authFailureKey(req.ip);
    try {
      const blocked = await rateLimits.blockedFor(db, failKey);
      if (blocked !== undefined) {
        req.authFailure = 'throttled';
        req.retryAfterS = blocked;
        return next();
      }
      const p = await resolve(bearer(req));
      if (p) req.principal = p;
      else {
        req.authFailure = 'unknown-key';
        const failures = await rateLimits.recordFailure(db, failKey, limit);
        if (failures === limit.max) logger.warn({ ip: req.ip }, 'too many failed authentications: address throttled');
      }
    } catch (err) {
      logger.error({ errorClass: (err as Error).constructor.name, path: req.path }, 'cannot check the API key');
      if (!req.authFailure) req.authFailure = 'unavailable';
    }
    next();
  };
}

/** The problem+json 429 for a throttled address (with `Retry-After`, set by {@link requireCaller}). */
export const throttled = (retryAfterS: number) =>
  new HttpProblem(
    429,
    'Too many requests',
    `Too many failed authentications from this address: retry in ${retryAfterS} seconds`,
  );

/**
 * Express middleware: the routes answering problem+json need a caller: 401 without a known key, 429 (with
 * `Retry-After`) from a throttled address; when PostgreSQL
 * cannot be asked, 503 (retry later), never a 500 or a 401 that would make a client drop a good key.
 */
export function requireCaller(req: Request, res: Response, next: NextFunction): void {
  if (req.authFailure === 'throttled') {
    const retryAfterS = req.retryAfterS ?? 60;
    res.set('Retry-After', String(retryAfterS));
    throw throttled(retryAfterS);
  }
  if (req.authFailure === 'unavailable') {
    throw new HttpProblem(503, 'Service unavailable', 'The service cannot check keys just now; retry later');
  }
  if (!req.principal) throw unauthorized();
  next();
}

export function principal(req: Request): Principal {
  if (!req.principal) throw unauthorized();
  return req.principal;
}

export function requireAdmin(req: Request): void {
  if (principal(req).kind !== 'admin') throw new HttpProblem(403, 'Forbidden', 'Only the operator may do this');
}

/**
 * The operator, or the provider itself. Another provider's id is 404, never 403 (existence is not revealed), and
 * audited as `access.refused`; a hospital key is 403.
 */
export function requireProviderAccess(req: Request, providerId: string): void {
  const p = principal(req);
  if (p.kind === 'admin') return;
  if (p.kind === 'provider') {
    if (p.providerId === providerId) return;
    throw new RefusedAccess(`provider:${p.odsCode}`, 'provider', providerId);
  }
  throw new HttpProblem(403, 'Forbidden', 'A hospital key cannot do this');
}

/** Who a `/v1` request acts as, for audit rows: `operator`, or `<hospital|provider>:<ODS code>`. */
export function actorOf(req: Request): string {
  const p = principal(req);
  return p.kind === 'admin' ? 'operator' : `${p.kind}:${p.odsCode}`;
}
