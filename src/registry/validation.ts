/** Checking input against the registry's rules, the same for the API (problem+json) and the portal (error summary). */
import type { z } from 'zod';

/** One field's problem: `field` is the path in the API body (`steps.0.waitSeconds`), `message` what is wrong. */
export interface FieldError {
  field: string;
  message: string;
}

/** The parsed value, or every field's problem (a missing body counts as `{}`). */
export function check<T extends z.ZodTypeAny>(
  schema: T,
  body: unknown,
): { ok: true; data: z.infer<T> } | { ok: false; errors: FieldError[] } {
  const r = schema.safeParse(body ?? {});
  if (r.success) return { ok: true, data: r.data as z.infer<T> };
  return {
    ok: false,
    errors: r.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message })),
  };
}
