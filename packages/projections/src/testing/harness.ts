import { createDatabasePool, type DatabasePool, migrate, sql } from '@ghostnet/db';
import type { StreamMessage } from '@ghostnet/events';
import { createLogger, type Logger } from '@ghostnet/logger';
import { createTestDatabase, createTestStream, type TestDatabase, type TestStream } from '@ghostnet/test';
import { z } from 'zod';
import { ALL_PROJECTIONS } from '../projections/index.ts';
import { listGenerations } from '../runtime/generations.ts';
import { ProjectionRunner, RUNNER_POOL_OPTIONS, type RunnerOptions } from '../runtime/runner.ts';
import { publishAll } from './synthetic.ts';

export interface Harness {
  db: TestDatabase;
  stream: TestStream;
  pool: DatabasePool;
  logger: Logger;
  runners: ProjectionRunner[];
  runner(options?: Partial<RunnerOptions>): ProjectionRunner;
  publish(messages: readonly StreamMessage[]): Promise<number[]>;
  cleanup(): Promise<void>;
}

/** A database (migrated) and a stream of the test's own, and runners over them that cleanup() stops. */
export async function createHarness(
  options: { stream?: TestStream; shareStream?: boolean } = {},
): Promise<Harness> {
  const db = await createTestDatabase();
  await migrate(db.url);
  const stream = options.stream ?? (await createTestStream());
  const pool = await createDatabasePool(db.url, { ...RUNNER_POOL_OPTIONS, maximumPoolSize: 12 });
  const logger = createLogger({ name: 'projector-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const runners: ProjectionRunner[] = [];
  return {
    db,
    stream,
    pool,
    logger,
    runners,
    runner(overrides = {}) {
      const runner = new ProjectionRunner({
        pool,
        databaseUrl: db.url,
        nc: stream.nc,
        streamName: stream.name,
        chainId: stream.chainId,
        subjectPrefix: stream.prefix,
        projections: [...ALL_PROJECTIONS],
        logger,
        pollMs: 200,
        ...overrides,
      });
      runners.push(runner);
      return runner;
    },
    publish(messages) {
      return publishAll(stream.js, stream.chainId, stream.prefix, messages);
    },
    async cleanup() {
      for (const r of runners) await r.stop().catch(() => {});
      await pool.end();
      if (!options.shareStream) await stream.destroy();
      await db.drop();
    },
  };
}

/** Every table of a schema as sorted row texts: two generations or databases compare with toEqual. */
export async function dumpSchema(
  pool: DatabasePool,
  schema: string,
  options: { dropColumns?: RegExp } = {},
): Promise<Record<string, string[]>> {
  const tables = await pool.anyFirst(sql.type(z.object({ relname: z.string() }))`
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relkind = 'r' ORDER BY c.relname`);
  const out: Record<string, string[]> = {};
  for (const table of tables) {
    const columns = await pool.anyFirst(sql.type(z.object({ attname: z.string() }))`
      SELECT a.attname FROM pg_attribute a
      WHERE a.attrelid = ${`${schema}.${table}`}::regclass AND a.attnum > 0 AND NOT a.attisdropped`);
    const drop = columns.filter((c) => options.dropColumns?.test(c));
    // jsonb as text: exact NUMERICs, keys in a fixed order.
    out[table] = [
      ...(await pool.anyFirst(sql.type(z.object({ j: z.string() }))`
        SELECT (to_jsonb(t) - ${sql.array(drop, 'text')})::text AS j FROM ${sql.identifier([schema, table])} t`)),
    ].sort();
  }
  return out;
}

/** The active generation's schema of each projection. */
export async function activeSchemas(pool: DatabasePool): Promise<Record<string, string>> {
  const generations = await listGenerations(pool);
  return Object.fromEntries(
    generations.filter((g) => g.status === 'active').map((g) => [g.projection, g.schema]),
  );
}

/** Dumps of every active projection. */
export async function dumpAll(
  pool: DatabasePool,
  options: { dropColumns?: RegExp } = {},
): Promise<Record<string, Record<string, string[]>>> {
  const schemas = await activeSchemas(pool);
  const out: Record<string, Record<string, string[]>> = {};
  for (const [projection, schema] of Object.entries(schemas).sort())
    out[projection] = await dumpSchema(pool, schema, options);
  return out;
}

export async function checkpoints(pool: DatabasePool): Promise<Record<string, number>> {
  const generations = await listGenerations(pool);
  return Object.fromEntries(
    generations.filter((g) => g.status === 'active').map((g) => [g.projection, g.lastSequence]),
  );
}
