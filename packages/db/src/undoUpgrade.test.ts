import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadMigrations, MIGRATIONS_DIR, migrate } from './migrate.ts';
import { createDatabasePool, sql } from './pool.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

// Migration 0010 changed undo capture from row triggers to statement triggers. A database upgraded from 0009
// has generation schemas with the old triggers: they must be swapped, and capture + undo must still work.
describe('undo capture upgrade (0009 → 0010)', () => {
  it('swaps the row triggers of existing generations, and undo takes back what they then capture', async () => {
    const old = mkdtempSync(join(tmpdir(), 'mig-0009-'));
    try {
      for (const m of loadMigrations().filter((m) => m.version <= 9)) {
        const file = `${String(m.version).padStart(4, '0')}_${m.name}.sql`;
        copyFileSync(join(MIGRATIONS_DIR, file), join(old, file));
      }
      await migrate(db.url, old);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
    const pool = await createDatabasePool(db.url);
    try {
      // A generation made by the 0009 code, with a change captured in the old format.
      await pool.query(sql.unsafe`CREATE SCHEMA g_v1`);
      await pool.query(
        sql.unsafe`CREATE TABLE g_v1.t (k text PRIMARY KEY, v numeric NOT NULL, at timestamptz)`,
      );
      await pool.query(sql.unsafe`SELECT projection_install_undo_except('g_v1', '{}')`);
      await pool.transaction(async (tx) => {
        await tx.query(sql.unsafe`SELECT set_config('ghostnet.undo', 'g|1|1', true)`);
        await tx.query(sql.unsafe`INSERT INTO g_v1.t VALUES ('a', 1, now())`);
      });

      await migrate(db.url);

      const triggers = await pool.anyFirst(sql.type(z.object({ tgname: z.string() }))`
        SELECT tgname FROM pg_trigger WHERE tgrelid = 'g_v1.t'::regclass ORDER BY tgname`);
      expect(triggers).toEqual(['undo_capture_delete', 'undo_capture_insert', 'undo_capture_update']);
      // The old-format log is gone (a reorg behind the upgrade rebuilds instead).
      expect(await pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM projection_undo`)).toBe(0);

      const dump = () =>
        pool.any(sql.unsafe`SELECT k, v::text, at FROM g_v1.t ORDER BY k`) as Promise<unknown[]>;
      const before = await dump();
      // One batch: an insert, an update of an older row and of the new one, a delete.
      await pool.transaction(async (tx) => {
        await tx.query(sql.unsafe`SELECT set_config('ghostnet.undo', 'g|1|2', true)`);
        await tx.query(sql.unsafe`INSERT INTO g_v1.t VALUES ('b', 2, NULL), ('c', 3, now())`);
        await tx.query(sql.unsafe`UPDATE g_v1.t SET v = v * 10 WHERE k IN ('a', 'b')`);
        await tx.query(sql.unsafe`UPDATE g_v1.t SET v = v + 1, at = NULL WHERE k = 'a'`);
        await tx.query(sql.unsafe`DELETE FROM g_v1.t WHERE k = 'c'`);
      });
      expect(await dump()).not.toEqual(before);
      const undone = await pool.oneFirst(sql.unsafe`SELECT projection_undo_apply('g', 1, 2)`);
      expect(undone).toBeGreaterThan(0);
      expect(await dump()).toEqual(before);
      expect(await pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM projection_undo`)).toBe(0);
    } finally {
      await pool.end();
    }
  });
});
