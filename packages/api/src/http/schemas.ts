import { z } from 'zod';
import { ErrorBody } from './errors.ts';

/** Any-case hex address in; lowercase out, as addresses travel everywhere else. */
export const AddressInput = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x-prefixed 20-byte hex address')
  .transform((a) => a.toLowerCase());

export const AddressParams = z.object({ address: AddressInput });

/** Free text that reaches Postgres, which cannot store NUL in text: refused here with a 400, not a 500 there. */
export const StoredText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

export const Pagination = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};

/**
 * The error responses a route can give, for its schema (and so for the OpenAPI document). Every route may also
 * answer 503 with Retry-After: the database not answering, reads piling up behind it, or the instance closing.
 */
export function errors(...codes: (400 | 401 | 403 | 404 | 409 | 429)[]) {
  return Object.fromEntries([...codes, 503].map((code) => [code, ErrorBody])) as Record<
    number,
    typeof ErrorBody
  >;
}

export const Ok = z.object({ success: z.literal(true) });
