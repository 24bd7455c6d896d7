/**
 * The query parameters of every list endpoint, checked by one zod parser: `limit` (1–1000, default 100), `offset`
 * (≥ 0, default 0) and the endpoint's own enumerations (`status=`, …). A value that is not one of them is 400
 * problem+json naming the parameter (`{"parameter": "limit", ...}`), never silently replaced by a default.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { badRequest } from './problem.js';

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;

/** A whole number written in decimal digits only (`5`, not `5.0`, `1e3` or ` 5`). */
const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, `${name} must be a whole number`)
    .transform(Number)
    .pipe(z.number().int().min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`));

export const pagingQuery = {
  limit: integer('limit', 1, MAX_LIMIT).default(String(DEFAULT_LIMIT)),
  offset: integer('offset', 0, Number.MAX_SAFE_INTEGER).default('0'),
};

/** An optional parameter that must be one of `values`. */
export function oneOf<const T extends readonly [string, ...string[]]>(name: string, values: T) {
  return z.enum(values, { errorMap: () => ({ message: `${name} must be one of ${values.join(', ')}` }) });
}

/** An optional free-text parameter (once; at most `max` characters). */
export const text = (name: string, max = 200) =>
  z.string().min(1, `${name} must not be empty`).max(max, `${name} must be at most ${max} characters`);

/**
 * Parses `req.query` with `shape` (every other parameter is ignored, as before). A parameter given twice
 * (`?limit=1&limit=2`) is an error too. Throws 400 problem+json naming the first bad parameter.
 */
export function parseQuery<S extends z.ZodRawShape>(req: Request, shape: S): z.infer<z.ZodObject<S>> {
  const given: Record<string, unknown> = {};
  for (const name of Object.keys(shape)) {
    const value = (req.query as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (typeof value !== 'string')
      throw badRequest(`${name} must be given once, as a plain value`, { parameter: name });
    given[name] = value;
  }
  const parsed = z.object(shape).safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const parameter = String(issue.path[0] ?? 'query');
    throw badRequest(issue.message.startsWith(parameter) ? issue.message : `${parameter}: ${issue.message}`, {
      parameter,
    });
  }
  return parsed.data;
}
