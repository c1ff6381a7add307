import { z } from 'zod';
import { secret } from './env.ts';

/** Env fragments shared by the apps, so that each variable has one name and one meaning. */

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const logEnv = {
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

export const natsEnv = {
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  /** Username/password or token for least-privilege NATS users (infra/nats). Optional locally. */
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: secret(z.string()).optional(),
  STREAM_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('GHOSTNET'),
  /** First token of every subject; lets several deployments share one NATS account. */
  SUBJECT_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]+$/)
    .default('ghostnet'),
};

export const databaseEnv = {
  DATABASE_URL: secret(z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
};

export const chainEnv = {
  CHAIN_ID: z.coerce.number().int().positive(),
  /** The devnet writes this file; production passes the addresses directly. */
  DEPLOYMENT_FILE: z.string().optional(),
};

export const httpEnv = {
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
};

export { bool };
