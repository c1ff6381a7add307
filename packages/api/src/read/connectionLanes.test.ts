import { createDatabasePool, type DatabasePool, sql } from '@ghostnet/db';
import { createTestDatabase, type TestDatabase, waitFor } from '@ghostnet/test';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConnectionLanes } from './connectionLanes.ts';

let db: TestDatabase;
let pool: DatabasePool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = await createDatabasePool(db.url, { maximumPoolSize: 4 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const pid = sql.type(z.object({ pid: z.number() }))`SELECT pg_backend_pid() AS pid`;

describe('ConnectionLanes', () => {
  it('spreads queries over held connections and recovers when they are killed', async () => {
    const lanes = new ConnectionLanes(pool, 2);
    lanes.start();
    const seen = await waitFor('two lanes', async () => {
      const pids = new Set<number>();
      for (let i = 0; i < 6; i++) pids.add(await lanes.run((c) => c.oneFirst(pid)));
      return pids.size === 2 ? pids : undefined;
    });

    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend(p) FROM unnest($1::int[]) p', [[...seen]]);
    await admin.end();

    // Queries keep working (a broken lane is released; the pool serves meanwhile) and the lanes come back.
    const after = await waitFor('fresh lanes', async () => {
      const pids = new Set<number>();
      for (let i = 0; i < 6; i++) pids.add(await lanes.run((c) => c.oneFirst(pid)).catch(() => -1));
      return [...pids].every((p) => p > 0 && !seen.has(p)) ? pids : undefined;
    });
    expect(after.size).toBeGreaterThan(0);
    lanes.close();
  });
});
