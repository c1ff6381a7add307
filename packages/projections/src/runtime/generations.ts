import { type DatabasePool, sql } from '@ghostnet/db';
import type { DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import type { Projection } from './types.ts';

export type GenerationStatus = 'active' | 'building' | 'retired';

export interface Generation {
  projection: string;
  version: number;
  codeVersion: number;
  schema: string;
  status: GenerationStatus;
  failedSequence: number | null;
  failedError: string | null;
  lastSequence: number;
  epoch: string;
  retiredAt: number | null;
}

const GenerationRow = z.object({
  projection: z.string(),
  version: z.number(),
  code_version: z.number(),
  schema_name: z.string(),
  status: z.enum(['active', 'building', 'retired']),
  failed_sequence: z.number().nullable(),
  failed_error: z.string().nullable(),
  last_sequence: z.number().nullable(),
  stream_epoch: z.string().nullable(),
  retired_at: z.number().nullable(),
});

const NAME = /^[a-z][a-z0-9_]{0,40}$/;

export function schemaOf(projection: string, version: number): string {
  if (!NAME.test(projection)) throw new Error(`projection name ${projection} must match ${NAME}`);
  return `${projection}_v${version}`;
}

export function consumerName(projection: string, version: number): string {
  return `projection_${projection}_v${version}`;
}

function toGeneration(row: z.infer<typeof GenerationRow>): Generation {
  return {
    projection: row.projection,
    version: row.version,
    codeVersion: row.code_version,
    schema: row.schema_name,
    status: row.status,
    failedSequence: row.failed_sequence,
    failedError: row.failed_error,
    lastSequence: row.last_sequence ?? 0,
    epoch: row.stream_epoch ?? '',
    retiredAt: row.retired_at,
  };
}

type Queryable = Pick<DatabasePool, 'any' | 'query' | 'one' | 'maybeOne'>;

export async function listGenerations(db: Queryable, projection?: string): Promise<Generation[]> {
  const filter = projection ? sql.fragment`WHERE v.projection = ${projection}` : sql.fragment``;
  const rows = await db.any(sql.type(GenerationRow)`
    SELECT v.projection, v.version, v.code_version, v.schema_name, v.status, v.failed_sequence, v.failed_error,
           c.last_sequence, c.stream_epoch, v.retired_at
    FROM projection_versions v
    LEFT JOIN projection_checkpoints c ON c.projection = v.projection AND c.version = v.version
    ${filter}
    ORDER BY v.projection, v.version`);
  return rows.map(toGeneration);
}

/** Serializes generation changes of one projection across processes (transaction-scoped). */
async function lockProjection(tx: DatabaseTransactionConnection, projection: string): Promise<void> {
  await tx.query(
    sql.unsafe`SELECT pg_advisory_xact_lock(hashtext('ghostnet.projection-admin'), hashtext(${projection}))`,
  );
}

/** Creates the schema and tables of a generation from the projection's DDL function. */
async function createTables(
  tx: DatabaseTransactionConnection,
  schema: string,
  projection: Projection,
  publish: boolean,
): Promise<void> {
  const { ddl } = projection;
  await tx.query(sql.unsafe`CREATE SCHEMA ${sql.identifier([schema])}`);
  await tx.query(sql.unsafe`SELECT set_config('search_path', ${`${schema}, public`}, true)`);
  await tx.query(sql.unsafe`SELECT ${sql.identifier(['public', ddl])}()`);
  await tx.query(sql.unsafe`SELECT set_config('search_path', 'public', true)`);
  const appendOnly = Object.keys(projection.appendOnly ?? {});
  await tx.query(
    sql.unsafe`SELECT projection_install_undo_except(${schema}, ${sql.array(appendOnly, 'text')})`,
  );
  if (publish) await tx.query(sql.unsafe`SELECT projection_publish_views(${schema})`);
}

async function createGeneration(
  tx: DatabaseTransactionConnection,
  projection: Projection,
  version: number,
  codeVersion: number,
  status: 'active' | 'building',
  epoch: string,
): Promise<void> {
  const schema = schemaOf(projection.name, version);
  await tx.query(sql.unsafe`
    INSERT INTO projection_versions (projection, version, code_version, schema_name, status, activated_at)
    VALUES (${projection.name}, ${version}, ${codeVersion}, ${schema}, ${status},
            ${status === 'active' ? sql.fragment`now()` : sql.fragment`NULL`})`);
  await tx.query(sql.unsafe`
    INSERT INTO projection_checkpoints (projection, version, stream_epoch, last_sequence)
    VALUES (${projection.name}, ${version}, ${epoch}, 0)`);
  await createTables(tx, schema, projection, status === 'active');
}

const VersionRow = z.object({ v: z.number() });

async function nextVersion(tx: DatabaseTransactionConnection, projection: string): Promise<number> {
  return tx.oneFirst(sql.type(VersionRow)`
    SELECT COALESCE(max(version), 0) + 1 AS v FROM projection_versions WHERE projection = ${projection}`);
}

/**
 * Makes sure the projection has what this code needs: a first generation (active at once: it starts at
 * sequence 1 and catches up while readers see its progress), or, when the active one was built by older code,
 * a new generation building beside it.
 */
export async function ensureGenerations(
  pool: DatabasePool,
  projection: Projection,
  epoch: string,
): Promise<Generation[]> {
  return pool.transaction(async (tx) => {
    await lockProjection(tx, projection.name);
    const current = (await listGenerations(tx, projection.name)).filter((g) => g.status !== 'retired');
    const active = current.find((g) => g.status === 'active');
    const building = current.find((g) => g.status === 'building');
    if (!active && !building) {
      await createGeneration(
        tx,
        projection,
        await nextVersion(tx, projection.name),
        projection.codeVersion,
        'active',
        epoch,
      );
    } else if (active && active.codeVersion < projection.codeVersion && !building) {
      await createGeneration(
        tx,
        projection,
        await nextVersion(tx, projection.name),
        projection.codeVersion,
        'building',
        epoch,
      );
    }
    return listGenerations(tx, projection.name);
  });
}

/** `projections rebuild NAME`: a new generation of the same code, built beside the active one. */
export async function requestRebuild(
  pool: DatabasePool,
  projection: Projection,
  epoch: string,
): Promise<Generation> {
  return pool.transaction(async (tx) => {
    await lockProjection(tx, projection.name);
    const current = await listGenerations(tx, projection.name);
    const building = current.find((g) => g.status === 'building');
    if (building) throw new Error(`${projection.name} v${building.version} is already building`);
    const version = await nextVersion(tx, projection.name);
    const hasActive = current.some((g) => g.status === 'active');
    await createGeneration(
      tx,
      projection,
      version,
      projection.codeVersion,
      hasActive ? 'building' : 'active',
      epoch,
    );
    const created = (await listGenerations(tx, projection.name)).find((g) => g.version === version);
    if (!created) throw new Error('generation vanished');
    return created;
  });
}

/**
 * Activates a building generation once it has caught up: readers switch in the same transaction (the live
 * views and the active row change together). Returns false when it is not caught up with the active one.
 */
export async function activateIfCaughtUp(
  pool: DatabasePool,
  projection: string,
  version: number,
): Promise<boolean> {
  return pool.transaction(async (tx) => {
    await lockProjection(tx, projection);
    // The checkpoints locked before they are compared: a batch of the active generation committing between
    // the comparison and the switch would let a reader see its sequence, then the next reader an older one.
    // (Batches lock only their own checkpoint row, so this cannot deadlock with them.)
    await tx.query(sql.unsafe`
      SELECT 1 FROM projection_checkpoints WHERE projection = ${projection} ORDER BY version FOR UPDATE`);
    const generations = await listGenerations(tx, projection);
    const mine = generations.find((g) => g.version === version);
    if (mine?.status !== 'building') return false;
    const active = generations.find((g) => g.status === 'active');
    // Readers never see the sequence go back, unless the active one is stuck on a poison message.
    if (active && active.failedSequence === null && mine.lastSequence < active.lastSequence) return false;
    if (active) {
      await tx.query(sql.unsafe`
        UPDATE projection_versions SET status = 'retired', retired_at = now()
        WHERE projection = ${projection} AND version = ${active.version}`);
    }
    await tx.query(sql.unsafe`
      UPDATE projection_versions SET status = 'active', activated_at = now()
      WHERE projection = ${projection} AND version = ${version}`);
    await tx.query(sql.unsafe`SELECT projection_publish_views(${mine.schema})`);
    return true;
  });
}

/**
 * Empties a generation (reorg beyond the undo log, or a recreated stream): tables recreated, undo log and
 * checkpoint reset, orphans kept (they stay orphaned). Runs inside the caller's batch transaction.
 */
export async function resetGenerationIn(
  tx: DatabaseTransactionConnection,
  projection: Projection,
  version: number,
  status: GenerationStatus,
  epoch: string,
  keepOrphans: boolean,
): Promise<void> {
  const schema = schemaOf(projection.name, version);
  await tx.query(sql.unsafe`DROP SCHEMA IF EXISTS ${sql.identifier([schema])} CASCADE`);
  await createTables(tx, schema, projection, status === 'active');
  await tx.query(
    sql.unsafe`DELETE FROM projection_undo WHERE projection = ${projection.name} AND version = ${version}`,
  );
  await tx.query(sql.unsafe`
    DELETE FROM projection_undo_batches WHERE projection = ${projection.name} AND version = ${version}`);
  if (!keepOrphans) {
    await tx.query(sql.unsafe`
      DELETE FROM projection_orphans WHERE projection = ${projection.name} AND version = ${version}`);
  }
  await tx.query(sql.unsafe`
    UPDATE projection_checkpoints
    SET last_sequence = 0, last_message_id = NULL, stream_epoch = ${epoch}, updated_at = now()
    WHERE projection = ${projection.name} AND version = ${version}`);
}

export async function markFailed(
  pool: DatabasePool,
  projection: string,
  version: number,
  sequence: number,
  error: string,
): Promise<void> {
  await pool.query(sql.unsafe`
    UPDATE projection_versions SET failed_sequence = ${sequence}, failed_error = ${error.slice(0, 2000)}, failed_at = now()
    WHERE projection = ${projection} AND version = ${version}`);
}

/** `projections resume NAME`: an operator fixed the cause; the generation retries from its checkpoint. */
export async function clearFailure(pool: DatabasePool, projection: string): Promise<number> {
  const result = await pool.query(sql.unsafe`
    UPDATE projection_versions SET failed_sequence = NULL, failed_error = NULL, failed_at = NULL
    WHERE projection = ${projection} AND status <> 'retired' AND failed_sequence IS NOT NULL`);
  return result.rowCount;
}

/** Drops retired generations after a grace period (readers that resolved them have finished). */
export async function dropRetired(pool: DatabasePool, graceMs: number): Promise<Generation[]> {
  const retired = (await listGenerations(pool)).filter(
    (g) => g.status === 'retired' && g.retiredAt !== null && g.retiredAt < Date.now() - graceMs,
  );
  for (const g of retired) {
    await pool.transaction(async (tx) => {
      await lockProjection(tx, g.projection);
      await tx.query(sql.unsafe`DROP SCHEMA IF EXISTS ${sql.identifier([g.schema])} CASCADE`);
      for (const table of [
        'projection_undo',
        'projection_orphans',
        'projection_checkpoints',
        'projection_versions',
      ]) {
        await tx.query(sql.unsafe`
          DELETE FROM ${sql.identifier([table])} WHERE projection = ${g.projection} AND version = ${g.version}`);
      }
      await tx.query(sql.unsafe`
        DELETE FROM projection_undo_batches WHERE projection = ${g.projection} AND version = ${g.version}`);
    });
  }
  return retired;
}
