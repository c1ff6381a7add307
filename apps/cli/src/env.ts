import { logEnv, natsEnv, parseEnv } from '@ghostnet/config';
import { z } from 'zod';

export const CliEnv = z.object({
  ...logEnv,
  ...natsEnv,
  CHAIN_ID: z.coerce.number().int().positive().default(31337),
  RPC_URL: z.string().url().optional(),
  DATABASE_URL: z.string().optional(),
  MAX_REORG_DEPTH: z.coerce.number().int().positive().default(64),
  START_BLOCK: z.coerce.number().int().nonnegative().default(0),
});
export type CliEnv = z.infer<typeof CliEnv>;

export const loadCliEnv = (env: Record<string, string | undefined> = process.env) =>
  parseEnv('ghostnet', CliEnv, env);
