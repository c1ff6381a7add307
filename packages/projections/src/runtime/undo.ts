import { type DatabasePool, sql } from '@ghostnet/db';

/**
 * Forgets the undo log of the batches that ended before `below`. A batch and its row images go together: a
 * batch row whose images were gone would still count as covering a reorg inside it, and the rewind would
 * leave that batch's effects in place. So a batch straddling `below` keeps all of its images.
 */
export async function pruneUndo(
  pool: DatabasePool,
  projection: string,
  version: number,
  below: number,
): Promise<void> {
  await pool.query(sql.unsafe`
    WITH gone AS (
      DELETE FROM projection_undo_batches
      WHERE projection = ${projection} AND version = ${version} AND last_seq < ${below}
      RETURNING first_seq
    )
    DELETE FROM projection_undo
    WHERE projection = ${projection} AND version = ${version} AND batch_first IN (SELECT first_seq FROM gone)`);
}
