import { createDatabasePool, type DatabasePool, migrate } from '@ghostnet/db';
import { createTestDatabase, type TestDatabase } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedQuota } from './sharedQuota.ts';

let db: TestDatabase;
let pool: DatabasePool;

beforeAll(async () => {
  db = await createTestDatabase();
  await migrate(db.url);
  pool = await createDatabasePool(db.url, { maximumPoolSize: 8 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('SharedQuota', () => {
  it('never grants more than the limit in total, whatever the number of instances and concurrency', async () => {
    const instances = Array.from({ length: 5 }, () => new SharedQuota({ pool }));
    const now = Date.now();
    for (const limit of [1, 7, 100, 1000]) {
      const key = `ip:test-${limit}`;
      const decisions = await Promise.all(
        Array.from({ length: limit * 2 }, (_, i) => instances[i % 5]!.take(key, limit, now)),
      );
      const allowed = decisions.filter((d) => d.allowed).length;
      // Quota an instance reserved and did not spend is lost to the others: never more, rarely less.
      expect(allowed, `limit ${limit}`).toBeLessThanOrEqual(limit);
      expect(allowed, `limit ${limit}`).toBe(limit);
    }
  });

  it('starts afresh in the next window, and prunes old windows', async () => {
    const quota = new SharedQuota({ pool, windowMs: 1000 });
    const t0 = 5_000_000;
    expect(await quota.take('k', 1, t0)).toMatchObject({ allowed: true, resetAt: 5_001_000 });
    expect(await quota.take('k', 1, t0 + 10)).toMatchObject({ allowed: false, remaining: 0 });
    expect(await quota.take('k', 1, t0 + 1000)).toMatchObject({ allowed: true });
    await quota.prune(t0 + 5000);
    const left = await pool.anyFirst(
      (await import('@ghostnet/db')).sql.unsafe`SELECT window_start FROM api_rate_limits WHERE bucket = 'k'`,
    );
    expect(left).toEqual([]);
  });

  it('lets requests through when the store is down (and says so)', async () => {
    const broken = {
      maybeOne: () => Promise.reject(new Error('connection refused')),
    } as unknown as DatabasePool;
    const errors: unknown[] = [];
    const quota = new SharedQuota({ pool: broken, onStoreError: (e) => errors.push(e) });
    expect((await quota.take('k', 10)).allowed).toBe(true);
    expect(errors).toHaveLength(1);
  });
});
