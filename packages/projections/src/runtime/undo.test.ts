import { createDatabasePool, type DatabasePool, migrate, sql } from '@ghostnet/db';
import { createTestDatabase, type TestDatabase } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { pruneUndo } from './undo.ts';

let db: TestDatabase;
let pool: DatabasePool;
beforeAll(async () => {
  db = await createTestDatabase();
  await migrate(db.url);
  pool = await createDatabasePool(db.url, { maximumPoolSize: 2 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('pruneUndo', () => {
  it('keeps every row image of a batch that straddles the cut, and drops batches wholly below it with theirs', async () => {
    // Batches 1–10, 11–20, 21–30 of projection p v1, two images each; another generation untouched.
    for (const [projection, version] of [
      ['p', 1],
      ['p', 2],
    ] as const) {
      for (const first of [1, 11, 21]) {
        await pool.query(sql.unsafe`
          INSERT INTO projection_undo_batches (projection, version, first_seq, last_seq)
          VALUES (${projection}, ${version}, ${first}, ${first + 9})`);
        await pool.query(sql.unsafe`
          INSERT INTO projection_undo (projection, version, batch_first, tbl, op, image)
          SELECT ${projection}, ${version}, ${first}, 'projection_undo_batches'::regclass, 'I', 'x'
          FROM generate_series(1, 2)`);
      }
    }
    await pruneUndo(pool, 'p', 1, 15);

    const batches = await pool.any(sql.type(z.object({ version: z.number(), first_seq: z.number() }))`
      SELECT version, first_seq FROM projection_undo_batches ORDER BY version, first_seq`);
    const images = await pool.any(
      sql.type(z.object({ version: z.number(), batch_first: z.number(), n: z.number() }))`
        SELECT version, batch_first, count(*)::int AS n FROM projection_undo
        GROUP BY version, batch_first ORDER BY version, batch_first`,
    );
    expect(batches).toEqual([
      { version: 1, first_seq: 11 },
      { version: 1, first_seq: 21 },
      { version: 2, first_seq: 1 },
      { version: 2, first_seq: 11 },
      { version: 2, first_seq: 21 },
    ]);
    // The straddling batch 11–20 still has both of its images (a rewind into it must take all of it back).
    expect(images).toEqual([
      { version: 1, batch_first: 11, n: 2 },
      { version: 1, batch_first: 21, n: 2 },
      { version: 2, batch_first: 1, n: 2 },
      { version: 2, batch_first: 11, n: 2 },
      { version: 2, batch_first: 21, n: 2 },
    ]);
  });
});
