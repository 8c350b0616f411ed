import type { z } from 'zod';
import { badRequest, type FieldError } from '../errors';

type Parts = Record<string, readonly [z.ZodType, unknown]>;
type Parsed<P extends Parts> = { [K in keyof P]: z.output<P[K][0]> };

/** Validates params, query and body together so that a 400 lists every problem at once. */
export function validate<P extends Parts>(parts: P): Parsed<P> {
  const errors: FieldError[] = [];
  const out: Record<string, unknown> = {};
  for (const [where, [schema, value]] of Object.entries(parts)) {
    const result = schema.safeParse(value);
    if (result.success) out[where] = result.data;
    else
      for (const issue of result.error.issues)
        errors.push({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message });
  }
  if (errors.length > 0)
    throw badRequest(
      `invalid request: ${errors[0].path}: ${errors[0].message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
      errors,
    );
  return out as Parsed<P>;
}
