import { createDatabasePool, type DatabasePool, migrate } from '@ghostnet/db';
import { createTestDatabase, type TestDatabase } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonceStore, newNonce } from './nonceStore.ts';

let db: TestDatabase;
let pool: DatabasePool;

beforeAll(async () => {
  db = await createTestDatabase();
  await migrate(db.url);
  pool = await createDatabasePool(db.url);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('SIWE nonces', () => {
  it('are EIP-4361 alphanumerics, 24 long, never repeating', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => newNonce()));
    expect(seen.size).toBe(2000);
    for (const n of seen) expect(n).toMatch(/^[A-Za-z0-9]{24}$/);
  });

  it('are consumed once, refused when unknown or past their lifetime', async () => {
    const store = new NonceStore(pool, 300_000);
    const t = Date.now();
    const { nonce, expiresAt } = await store.issue(t);
    expect(expiresAt).toBe(t + 300_000);
    const racers = await Promise.all(Array.from({ length: 10 }, () => store.consume(nonce, t + 1000)));
    expect(racers.filter((r) => r === 'ok')).toHaveLength(1);
    expect(racers.filter((r) => r === 'used')).toHaveLength(9);
    expect(await store.consume('NeverIssued12345678', t)).toBe('unknown');
    const late = await store.issue(t);
    expect(await store.consume(late.nonce, t + 300_001)).toBe('expired');
  });
});
