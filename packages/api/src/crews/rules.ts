import { z } from 'zod';
import { StoredText } from '../http/schemas.ts';

/** Facts file: name 3–24 of letters, digits, spaces (single spaces between words, so look-alikes collide). */
export const CrewName = z
  .string()
  .min(3)
  .max(24)
  .regex(/^[A-Za-z0-9]+( [A-Za-z0-9]+)*$/, 'letters, digits and single spaces between words');

/** Tag 2–4 of [A-Z0-9]; lowercase input is uppercased. */
export const CrewTag = z
  .string()
  .regex(/^[A-Za-z0-9]{2,4}$/, '2–4 letters or digits')
  .transform((s) => s.toUpperCase());

export const CrewDescription = StoredText(140).default('');

export const CrewRole = z.enum(['leader', 'officer', 'member']);
export type CrewRole = z.infer<typeof CrewRole>;

export const MAX_CREW_MEMBERS = 50;

export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}
