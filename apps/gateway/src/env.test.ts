import { describe, expect, it } from 'vitest';
import { loadEnv } from './env.ts';

const base = {
  PORT: '8080',
  CHAIN_ID: '31337',
  DATABASE_URL: 'postgres://u:secret-pw@127.0.0.1/db',
  JWT_KEYS: `k1:${'s'.repeat(32)}`,
  JWT_ACTIVE_KID: 'k1',
};

describe('gateway env', () => {
  it('applies the spec defaults and normalizes the origin allow-list', () => {
    const env = loadEnv({ ...base, ALLOWED_ORIGINS: 'https://ghostnet.io/, http://localhost:5173' });
    expect(env.ALLOWED_ORIGINS).toEqual(['https://ghostnet.io', 'http://localhost:5173']);
    expect(env.MAX_CONNECTIONS_PER_USER).toBe(5);
    expect(env.ALLOW_ANONYMOUS_FEED).toBe(false);
    expect(env.HEARTBEAT_SECONDS).toBe(30);
    expect(env.REPLAY_LIMIT).toBe(1000);
  });

  it('names every bad variable without printing secrets', () => {
    let message = '';
    try {
      loadEnv({ ...base, ALLOWED_ORIGINS: 'not a url', HEARTBEAT_SECONDS: '1', JWT_KEYS: 'short' });
    } catch (error) {
      message = String(error);
    }
    for (const name of ['ALLOWED_ORIGINS', 'HEARTBEAT_SECONDS', 'JWT_KEYS']) expect(message).toContain(name);
    expect(message).not.toContain('secret-pw');
    expect(message).not.toContain('short');
  });
});
