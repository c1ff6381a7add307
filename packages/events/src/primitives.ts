import { z } from 'zod';

/** Addresses travel lowercase so that they compare as strings everywhere (SQL, topics, maps). */
export const Address = z.string().regex(/^0x[0-9a-f]{40}$/, 'lowercase 0x-prefixed 20-byte address');
export type Address = z.infer<typeof Address>;

export const Hash = z.string().regex(/^0x[0-9a-f]{64}$/, 'lowercase 0x-prefixed 32-byte hash');
export type Hash = z.infer<typeof Hash>;

/** uint256 as a decimal string: JSON numbers lose precision past 2^53. */
export const Uint = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, 'unsigned integer as a decimal string');
export type Uint = z.infer<typeof Uint>;

/** Unix milliseconds. */
export const TimestampMs = z.number().int().nonnegative();

export const ChainId = z.number().int().positive();
