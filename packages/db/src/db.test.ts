import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { label, loadMigrations, migrate } from './migrate.ts';
import { createDatabasePool, RowValidationError, sql } from './pool.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('migrate', () => {
  it('applies the checked-in migrations once, even from concurrent runners', async () => {
    const results = await Promise.all([migrate(db.url), migrate(db.url)]);
    const applied = results.flatMap((r) => r.applied);
    expect(applied).toEqual(loadMigrations().map(label));
    expect((await migrate(db.url)).applied).toEqual([]);
  });

  it('refuses to run when an applied migration changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mig-'));
    const other = await createTestDatabase();
    try {
      writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE a (x int);');
      await migrate(other.url, dir);
      writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE a (x bigint);');
      await expect(migrate(other.url, dir)).rejects.toThrow(/0001_a was changed after it was applied/);
    } finally {
      await other.drop();
    }
  });
});

describe('createDatabasePool', () => {
  it('keeps NUMERIC exact, BIGINT as number, and validates typed rows', async () => {
    const pool = await createDatabasePool(db.url);
    try {
      const row = await pool.one(
        sql.type(z.object({ amount: z.string(), seq: z.number(), at: z.number() }))`
          SELECT (2::numeric ^ 255)::numeric(78,0) AS amount, 9007199254740991::bigint AS seq, now() AS at`,
      );
      expect(row.amount).toBe((2n ** 255n).toString());
      expect(row.seq).toBe(Number.MAX_SAFE_INTEGER);
      await expect(pool.one(sql.type(z.object({ n: z.string() }))`SELECT 1 AS n`)).rejects.toThrow(
        RowValidationError,
      );
    } finally {
      await pool.end();
    }
  });

  it('resets a session when its connection goes back, unless told that nothing outlives a transaction', async () => {
    const setting = z.object({ name: z.string() });
    for (const [options, expected] of [
      [{}, ''],
      [{ resetSessionOnRelease: false }, 'left-set'],
    ] as const) {
      const pool = await createDatabasePool(db.url, { ...options, maximumPoolSize: 1 });
      try {
        // A session-level setting (not SET LOCAL): only DISCARD ALL on release takes it away.
        await pool.query(sql.unsafe`SELECT set_config('application_name', 'left-set', false)`);
        const after = await pool.oneFirst(
          sql.type(setting)`SELECT current_setting('application_name') AS name`,
        );
        expect(after).toBe(expected);
      } finally {
        await pool.end();
      }
    }
  });

  it('prepares a statement that repeats (and only that), once per connection, under a name its text gives', async () => {
    await expect(createDatabasePool(db.url, { prepareStatements: true })).rejects.toThrow(
      /resetSessionOnRelease/,
    );
    const pool = await createDatabasePool(db.url, {
      resetSessionOnRelease: false,
      prepareStatements: true,
      maximumPoolSize: 1,
    });
    const prepared = () =>
      pool.anyFirst(sql.type(z.object({ statement: z.string() }))`
        SELECT statement FROM pg_prepared_statements WHERE name LIKE 'gn_%' ORDER BY statement`);
    const n = z.object({ n: z.number() });
    try {
      const repeated = (i: number) => pool.oneFirst(sql.type(n)`SELECT ${i}::int AS n`);
      expect(await repeated(1)).toBe(1);
      expect(await prepared()).toEqual([]);
      for (let i = 2; i <= 10; i++) expect(await repeated(i)).toBe(i);
      // A text that differs each time (an identifier in it) is never prepared.
      for (let i = 0; i < 5; i++) {
        await pool.query(sql.unsafe`SELECT ${i}::int AS ${sql.identifier([`c${i}`])}`);
      }
      expect(await prepared()).toEqual(['SELECT $1::int AS n']);
      // It still answers for the values of each run, inside a transaction as outside.
      expect(await pool.transaction((tx) => tx.oneFirst(sql.type(n)`SELECT ${42}::int AS n`))).toBe(42);
    } finally {
      await pool.end();
    }
  });
});
