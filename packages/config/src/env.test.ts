import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseEnv, secret } from './env.ts';
import { databaseEnv, natsEnv } from './fragments.ts';
import { Secret } from './secret.ts';

const schema = z.object({
  ...databaseEnv,
  ...natsEnv,
  JWT_SECRET: secret(z.string().min(32, 'must be at least 32 characters')),
  PORT: z.coerce.number().int(),
});

describe('parseEnv', () => {
  it('names every missing and invalid variable in one error, without their values', () => {
    const leaked = 'short-but-secret-value';
    let error: unknown;
    try {
      parseEnv('api', schema, { JWT_SECRET: leaked, PORT: 'eighty', NATS_URL: undefined });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('invalid configuration for api');
    expect(message).toContain('DATABASE_URL: required but not set');
    expect(message).toContain('JWT_SECRET: must be at least 32 characters');
    expect(message).toMatch(/PORT: .*number/);
    expect(message).not.toContain(leaked);
    expect(message).not.toContain('eighty');
    expect((error as ConfigError).problems).toHaveLength(3);
  });

  it('treats an empty string as unset and applies defaults', () => {
    const env = parseEnv('api', schema, {
      DATABASE_URL: 'postgres://u:pw@h/db',
      JWT_SECRET: 'x'.repeat(32),
      PORT: '3000',
      STREAM_NAME: '',
    });
    expect(env.STREAM_NAME).toBe('GHOSTNET');
    expect(env.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(env.PORT).toBe(3000);
    expect(env.DATABASE_URL.reveal()).toBe('postgres://u:pw@h/db');
  });

  it('keeps secrets out of every printed form', () => {
    const env = parseEnv('api', schema, {
      DATABASE_URL: 'postgres://u:hunter2@h/db',
      JWT_SECRET: 'y'.repeat(32),
      PORT: '1',
    });
    const printed = [
      String(env.JWT_SECRET),
      JSON.stringify(env),
      inspect(env, { depth: 5 }),
      `${env.DATABASE_URL}`,
    ];
    for (const text of printed) {
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain('y'.repeat(32));
    }
    expect(env.JWT_SECRET).toBeInstanceOf(Secret);
  });
});
