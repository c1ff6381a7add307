import { type DatabasePool, sql } from '@ghostnet/db';
import type { DatabaseTransactionConnection, IdentifierSqlToken } from 'slonik';
import { z } from 'zod';

export type ProjectionName = 'feed' | 'game' | 'scans' | 'leaderboards' | 'crews';

/** Every read says which stream position it reflects: `(epoch, asOfSequenceId)` is a client's cursor. */
export interface AsOf {
  /** Last stream sequence applied to the tables read (0 when the projection has not started). */
  asOfSequenceId: number;
  /** Stream incarnation (its `created` timestamp); null when the projection has not started. */
  epoch: string | null;
}

export interface ReadContext {
  tx: DatabaseTransactionConnection;
  /** Active generation of each projection read, or undefined when it does not exist yet. */
  active: Map<ProjectionName, { schema: string; version: number; sequence: number; epoch: string }>;
  /** `schema.table` of a projection's active generation. */
  table(projection: ProjectionName, table: string): IdentifierSqlToken;
}

const ActiveRow = z.object({
  projection: z.string(),
  version: z.number(),
  schema_name: z.string(),
  last_sequence: z.number(),
  stream_epoch: z.string(),
});

/**
 * Runs `read` in one REPEATABLE READ, READ ONLY transaction: the checkpoints and the rows come from the same
 * snapshot, so the sequence returned is exactly the one the rows reflect. A generation replaced and dropped
 * between the two statements (a rebuild switching over) shows up as a missing relation; the read is retried.
 */
export async function readConsistent<T>(
  pool: DatabasePool,
  projections: readonly ProjectionName[],
  read: (context: ReadContext) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await pool.transaction(async (tx) => {
        await tx.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`);
        const rows = await tx.any(sql.type(ActiveRow)`
          SELECT v.projection, v.version, v.schema_name, c.last_sequence, c.stream_epoch
          FROM projection_versions v
          JOIN projection_checkpoints c ON c.projection = v.projection AND c.version = v.version
          WHERE v.status = 'active' AND v.projection = ANY(${sql.array([...projections], 'text')})`);
        const active = new Map(
          rows.map((r) => [
            r.projection as ProjectionName,
            { schema: r.schema_name, version: r.version, sequence: r.last_sequence, epoch: r.stream_epoch },
          ]),
        );
        return read({
          tx,
          active,
          table(projection, table) {
            const generation = active.get(projection);
            if (!generation) throw new Error(`projection ${projection} has no active generation`);
            return sql.identifier([generation.schema, table]);
          },
        });
      });
    } catch (error) {
      if (attempt < 3 && isMissingRelation(error)) continue;
      throw error;
    }
  }
}

function isMissingRelation(error: unknown): boolean {
  let e = error as { code?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e.code === '42P01' || e.code === '3F000') return true;
    e = e.cause as typeof e;
  }
  return /relation .* does not exist|schema .* does not exist/.test(String(error));
}

export function asOf(context: ReadContext, projection: ProjectionName): AsOf {
  const generation = context.active.get(projection);
  return { asOfSequenceId: generation?.sequence ?? 0, epoch: generation?.epoch ?? null };
}
